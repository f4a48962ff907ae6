//! `int-check profiles`: list the built-in profiles or print one.

use super::write_stdout;
use crate::cli::ProfilesAction;
use crate::exit::{Outcome, Stop};
use crate::profile::{self, Profile};

pub fn run_profiles(action: ProfilesAction) -> Result<Outcome, Stop> {
    let text = match action {
        ProfilesAction::List => {
            let mut text = String::new();
            for builtin in profile::BUILTINS {
                let doc = profile::load_profile(builtin.name)?;
                let profile = Profile::resolve(doc)?;
                text.push_str(&format!(
                    "{:<6} {} ({} endpoints)\n",
                    profile.name,
                    profile.description,
                    profile.endpoints.len()
                ));
            }
            text
        }
        ProfilesAction::Show { name } => match profile::builtin(&name) {
            Some(builtin) => builtin.toml.to_string(),
            None => return Err(profile::unknown_profile(&name).into()),
        },
    };
    write_stdout(&text)?;
    Ok(Outcome::Passed)
}
