//! `ringback_enter_as_member(clinic, user)` in one step: it names the clinic to row-level security
//! and reads the member's role and session version itself, instead of calling
//! `ringback_session_member` (which names the clinic, reads, and clears it again) and naming the
//! clinic a second time. The answer and what the transaction is left with are unchanged; every
//! signed-in request runs it first, and the nested call with its own `search_path` cost more than
//! the read.

use crate::rls::on_postgres;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The function: the body `ringback_session_member` starts with, and nothing after it.
fn one_step() -> String {
    let body = crate::m20261204_100000_create_session_member_function::NAME_CLINIC_AND_READ_MEMBER;
    format!(
        "\nCREATE OR REPLACE FUNCTION ringback_enter_as_member(p_clinic uuid, p_user uuid)\n\
         {body}END\n$$"
    )
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        on_postgres(manager, &[one_step()]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // The function as the migration before this one created it.
        let nested = crate::m20261207_100000_create_enter_as_member_function::FUNCTION;
        on_postgres(manager, &[nested.to_owned()]).await
    }
}
