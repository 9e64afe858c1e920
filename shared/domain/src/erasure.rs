//! Account erasure: the record that an account was erased, and when.

use serde::Serialize;

quiet_support::id_type!(
    /// An account erasure: `era_` and 32 hex digits. Unguessable, so its
    /// status can be shown to whoever holds it without signing in (the
    /// account it erased can no longer sign in).
    ErasureId,
    "era_",
    random_id,
    "must be era_ and 32 lowercase hex digits"
);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErasureStatus {
    /// The profile and email are gone; the worker is on the rest.
    InProgress,
    /// Nothing held names or locates the person any more.
    Completed,
}

/// An erasure as `GET /v1/erasures/{id}` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Erasure {
    #[schema(value_type = String, pattern = "^era_[0-9a-f]{32}$")]
    pub id: ErasureId,
    pub status: ErasureStatus,
    #[schema(format = DateTime)]
    pub requested_at: String,
    #[schema(format = DateTime)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<String>,
}
