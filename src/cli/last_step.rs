//! The last used step of a secret when enrollment replaces it (`enroll`,
//! `enroll --batch`, migrations): the one rule both paths follow.

use super::CliError;
use crate::secret::TotpSecret;
use crate::store::Entry;

/// Saves a record whose secret `new` replaces `old` (enroll, batch or
/// migration, under the user's lock) with the last used step that goes with
/// it: the same secret again keeps its step, so its used codes stay used (and
/// an imported file's DISALLOW_REUSE step is added); a new secret starts from
/// its own history, `imported` or none, since the old secret's step, perhaps
/// pushed into the future by a clock jump, would refuse its codes as replays.
/// A step is raised before the record is saved and lowered after it, so that
/// a failure half way leaves the old secret with its used codes still used.
pub(super) fn save_with_last_step<T>(
    u: &mut Entry<'_>,
    old: Option<&TotpSecret>,
    new: &TotpSecret,
    imported: Option<u64>,
    save: impl FnOnce(&mut Entry<'_>) -> Result<T, CliError>,
) -> Result<T, CliError> {
    let same = old.is_some_and(|old| new.same_as(old));
    let current = u.tally()?.last_step;
    let wanted = if same { current.max(imported) } else { imported };
    if wanted > current {
        u.update_tally(|t| t.last_step = wanted)?;
    }
    let saved = save(u)?;
    if wanted < current {
        u.update_tally(|t| t.last_step = wanted)?;
    }
    Ok(saved)
}
