//! Roles and what each may do. The server enforces these rules; the dashboard uses the same ones
//! to hide what a role cannot reach, so the two never disagree.

use serde::{Deserialize, Serialize};

/// A team member's role in a clinic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Works the worklist, inbox and appointments.
    Receptionist,
    /// Also manages settings, team and API keys, and reads the audit log.
    Admin,
    /// Also manages billing and can delete the account.
    Owner,
}

/// Something a role may or may not do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Read calls, appointments and metrics; log callbacks; book appointments. API keys hold this
    /// one only.
    WorkCalls,
    /// Read and answer callers' conversations (their texts, what the AI noted), the team's notices
    /// and the inbox: every member, never an API key (an integrator syncing calls has no reason to
    /// read patients' words, and reading a thread marks it read for the team).
    TalkToCallers,
    /// Change clinic settings.
    ManageSettings,
    /// Invite, remove and change the role of team members.
    ManageTeam,
    /// Create and revoke integrator API keys.
    ManageApiKeys,
    /// Read the audit log.
    ReadAuditLog,
    /// Answer a caller's data-protection request: see, export, erase or restrict what is held.
    HandlePrivacyRequests,
    /// Manage the subscription.
    ManageBilling,
    /// Delete the clinic and everything in it.
    DeleteAccount,
    /// Take away everything the clinic holds, in one machine-readable download.
    ExportClinicData,
}

impl Role {
    /// Every role, from least to most privileged.
    pub const ALL: [Role; 3] = [Role::Receptionist, Role::Admin, Role::Owner];

    /// Whether this role grants `permission`.
    pub fn allows(self, permission: Permission) -> bool {
        match permission {
            Permission::WorkCalls | Permission::TalkToCallers => true,
            Permission::ManageSettings
            | Permission::ManageTeam
            | Permission::ManageApiKeys
            | Permission::ReadAuditLog
            | Permission::HandlePrivacyRequests => self >= Role::Admin,
            Permission::ManageBilling
            | Permission::DeleteAccount
            | Permission::ExportClinicData => self == Role::Owner,
        }
    }

    /// Stable name, as stored and as sent over the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Receptionist => "receptionist",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }

    /// Parses a stored name.
    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.as_str() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receptionists_work_calls_but_cannot_administer() {
        let role = Role::Receptionist;
        assert!(role.allows(Permission::WorkCalls));
        assert!(role.allows(Permission::TalkToCallers));
        for permission in [
            Permission::ManageSettings,
            Permission::ManageTeam,
            Permission::ManageApiKeys,
            Permission::ReadAuditLog,
            Permission::HandlePrivacyRequests,
            Permission::ManageBilling,
        ] {
            assert!(!role.allows(permission), "{permission:?}");
        }
    }

    #[test]
    fn only_owners_bill_and_delete() {
        assert!(!Role::Admin.allows(Permission::ManageBilling));
        assert!(!Role::Admin.allows(Permission::DeleteAccount));
        assert!(Role::Owner.allows(Permission::ManageBilling));
        assert!(Role::Owner.allows(Permission::DeleteAccount));
        assert!(Role::Admin.allows(Permission::ManageTeam));
    }

    #[test]
    fn names_round_trip() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("superuser"), None);
    }
}
