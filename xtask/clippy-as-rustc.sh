#!/bin/sh
# Cargo's RUSTC_WORKSPACE_WRAPPER for the test build of `cargo xtask test`: compiles each crate of
# the workspace with Clippy (`clippy-driver`, which takes rustc's arguments), every warning an
# error, so one build both lints and builds the tests; dependencies are compiled by rustc alone.
if ! command -v clippy-driver >/dev/null 2>&1; then
  echo "clippy-driver is missing: install Clippy with 'rustup component add clippy'" >&2
  exit 1
fi
exec clippy-driver "$@" -D warnings
