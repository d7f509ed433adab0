// PostGraphile 5 over Ringback's PostgreSQL schema, for `cargo xtask bench-api`
// (xtask/src/bench_api.rs starts it with `node server.mjs` and the BENCH_* variables below).
//
// - Connects as Ringback's serving login (BENCH_DATABASE_URL: a member of ringback_app that does
//   not own the tables), so the tables' forced row-level security applies exactly as it does to
//   `ringback serve`.
// - Every request runs in a transaction that first does
//   `select set_config('app.clinic_id', $clinic, true)` (PostGraphile's pgSettings), which is what
//   Ringback's tenant scope does and what the policies read:
//   clinic_id = NULLIF(current_setting('app.clinic_id', true), '')::uuid.
//   The clinic is BENCH_CLINIC_ID (the demo clinic); without it every tenant table reads empty.
//
// Nothing in the database is changed: the additions below are configuration only.
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { makePgService } from "postgraphile/adaptors/pg";
import { addPgTableCondition, jsonPgSmartTags } from "postgraphile/utils";

const DATABASE_URL = process.env.BENCH_DATABASE_URL;
if (!DATABASE_URL) throw new Error("BENCH_DATABASE_URL is not set");
const CLINIC_ID = process.env.BENCH_CLINIC_ID ?? "";

// attributions.missed_call_id has no foreign key in Ringback's schema (the credit is looked up by
// a DataLoader), so declare it as a virtual one: Call.credits / Attribution.missedCall.
const tags = jsonPgSmartTags({
  version: 1,
  config: {
    class: {
      attributions: {
        tags: {
          foreignKey:
            "(clinic_id, missed_call_id) references calls (clinic_id, id)|@fieldName missedCall|@foreignFieldName credits",
        },
      },
    },
  },
});

// Amber has only equality conditions; the overview needs a day range (Ringback reads
// daily_metrics where day >= from and day <= to).
const dayCondition = (name, operator) =>
  addPgTableCondition(
    { schemaName: "public", tableName: "daily_metrics" },
    name,
    (build) => ({ type: build.getTypeByName("Date") }),
    (value, { sql, sqlTableAlias, sqlValueWithCodec, build }) =>
      value == null
        ? null
        : sql`${sqlTableAlias}.day ${sql.raw(operator)} ${sqlValueWithCodec(value, build.dataplanPg.TYPES.date)}`,
  );

/** @type {GraphileConfig.Preset} */
const preset = {
  extends: [PostGraphileAmberPreset],
  plugins: [tags, dayCondition("dayFrom", ">="), dayCondition("dayTo", "<=")],
  pgServices: [
    makePgService({
      connectionString: DATABASE_URL,
      schemas: ["public"],
      // Ringback's sqlx pool: at most 10 connections (the sqlx default).
      poolConfig: { max: Number(process.env.BENCH_POOL_MAX ?? 10) },
    }),
  ],
  grafast: {
    explain: false,
    context() {
      return { pgSettings: { "app.clinic_id": CLINIC_ID } };
    },
  },
  grafserv: {
    host: "127.0.0.1",
    port: Number(process.env.BENCH_PORT ?? 5678),
    graphqlPath: "/graphql",
    graphiql: false,
    watch: false,
    maxRequestLength: 100000,
  },
};

export default preset;
