//! Attribute and class names (the one place they are spelled); the shipped
//! schema and `pam-config/ldap/README.md` must name each one (tested here).

pub const SECRET: &str = "oathSecret";
pub const TOKEN_DN: &str = "oathTOTPToken";
pub const PARAMS_DN: &str = "oathTOTPParams";
pub const LAST_STEP: &str = "oathTOTPLastTimeStep";
pub const FAILURE_COUNT: &str = "oathFailureCount";
pub const LAST_FAILURE: &str = "oathLastFailure";
/// The fallback address for email codes (not `mail`: clearing it must not
/// touch the account's own address).
pub const EMAIL: &str = "twostepEmail";
/// E.164 number for text codes (not `mobile`, for the same reason).
pub const PHONE: &str = "twostepPhone";
pub const DISABLED: &str = "twostepDisabled";
pub const CREATED: &str = "twostepCreated";
/// Recent failure times, space-separated seconds since the epoch.
pub const FAILURES: &str = "twostepFailures";
pub const LOCKED_AT: &str = "twostepLockedAt";
pub const GRACE_USED: &str = "twostepGraceUsed";
/// "HASH SALT SENT_AT EXPIRES_AT" of a pending email / text code.
pub const EMAIL_CODE: &str = "twostepEmailCode";
pub const TEXT_CODE: &str = "twostepTextCode";
/// "HOLDER EXPIRES_AT": who changes this entry now.
pub const LOCK: &str = "twostepLock";
/// `disable --for`: enabled again from then on (seconds since the epoch).
pub const DISABLED_UNTIL: &str = "twostepDisabledUntil";
/// Unused backup codes, "SALT:HASH" space-separated (one value: replaced as a whole).
pub const BACKUP_CODES: &str = "twostepBackupCodes";
/// A pending help-desk code, "SALT HASH CREATED EXPIRES USES_LEFT BY" (BY may hold spaces).
pub const BYPASS: &str = "twostepBypass";
/// The code confirming a contact typed at enrollment, not yet typed back:
/// "METHOD TO TRIES HASH SALT SENT_AT EXPIRES_AT" (TO: the salted hash of the contact).
pub const CONTACT_CODE: &str = "twostepContactCode";
/// When codes to typed contacts went out recently, space-separated seconds since the epoch.
pub const CONTACT_SENDS: &str = "twostepContactSends";

pub const CLASS_USER: &str = "oathTOTPUser";
pub const CLASS_TOKEN: &str = "oathTOTPToken";
pub const CLASS_TWOSTEP: &str = "twostepUser";

pub const RECORD: [&str; 10] =
    [SECRET, TOKEN_DN, PARAMS_DN, EMAIL, PHONE, DISABLED, CREATED, DISABLED_UNTIL, BACKUP_CODES, BYPASS];
pub const TALLY: [&str; 10] = [
    LAST_STEP,
    FAILURE_COUNT,
    LAST_FAILURE,
    FAILURES,
    LOCKED_AT,
    GRACE_USED,
    EMAIL_CODE,
    TEXT_CODE,
    CONTACT_CODE,
    CONTACT_SENDS,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_attribute_is_in_the_shipped_schema_and_documented_in_the_one_readme() {
        let schema = include_str!("../../../pam-config/ldap/twostep.schema");
        let readme = include_str!("../../../pam-config/ldap/README.md");
        for name in RECORD.iter().chain(TALLY.iter()).chain([&LOCK]) {
            assert!(readme.contains(&format!("`{name}`")), "{name} is not in pam-config/ldap/README.md");
            if name.starts_with("twostep") {
                assert!(schema.contains(&format!("NAME '{name}'")), "{name} is not defined in twostep.schema");
                let class = &schema[schema.find("objectclass").unwrap()..];
                assert!(class.contains(&format!(" {name} ")), "{name} is not in the twostepUser class");
            }
        }
    }
}
