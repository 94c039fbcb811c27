//! `tenure.toml`: the project's configuration.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{io_err, Result, StoreError};
use crate::parse::TimeZone;

/// The project's configuration, read from `tenure.toml` in the project folder.
///
/// ```toml
/// [project]
/// timezone = "Asia/Shanghai"   # days are counted in this zone; default UTC
/// date_format = "%d/%m/%Y"     # only for day-first files; ISO, YYYYMMDD and epoch are sniffed
///
/// [mapping.orders]             # our column = the column in your export
/// customer_id = "CustomerID"
/// ordered_at = "InvoiceDate"
/// ```
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Project-wide settings.
    #[serde(default)]
    pub project: ProjectSection,
    /// Column mappings per table: our column → source column.
    #[serde(default)]
    pub mapping: BTreeMap<String, BTreeMap<String, String>>,
}

/// The `[project]` block.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectSection {
    /// IANA time zone name; timestamps are stored as wall-clock time in it.
    #[serde(default = "default_tz")]
    pub timezone: String,
    /// A chrono strftime format for dates that are not sniffed (e.g. day-first `%d/%m/%Y`).
    #[serde(default)]
    pub date_format: Option<String>,
}

fn default_tz() -> String {
    "UTC".into()
}

impl Default for ProjectSection {
    fn default() -> Self {
        ProjectSection {
            timezone: default_tz(),
            date_format: None,
        }
    }
}

/// The file name of the config inside a project folder.
pub const CONFIG_FILE: &str = "tenure.toml";

impl Config {
    /// Read `tenure.toml` from a project folder; a missing file means the defaults.
    pub fn load(project_dir: &Path) -> Result<Config> {
        let path = project_dir.join(CONFIG_FILE);
        if !path.exists() {
            return Ok(Config::default());
        }
        let text = std::fs::read_to_string(&path).map_err(io_err("read", &path))?;
        let config: Config = toml::from_str(&text).map_err(|e| StoreError::Config {
            path: path.clone(),
            message: e.to_string(),
        })?;
        config
            .time_zone()
            .map_err(|message| StoreError::Config { path, message })?;
        Ok(config)
    }

    /// The configured time zone.
    pub fn time_zone(&self) -> std::result::Result<TimeZone, String> {
        TimeZone::parse(&self.project.timezone).ok_or_else(|| {
            format!(
                "unknown time zone `{}` in [project] timezone: use an IANA name such as UTC or Asia/Shanghai",
                self.project.timezone
            )
        })
    }

    /// The text `tenure init` writes: the defaults, commented so users see what they can set.
    pub fn template() -> &'static str {
        r#"# tenure project configuration
[project]
# Timestamps are stored, and days counted, in this IANA time zone.
timezone = "UTC"
# Only needed for day-first dates such as 31/12/2024; ISO-8601, YYYYMMDD and epoch seconds are sniffed.
# date_format = "%d/%m/%Y"

# Map your export's columns to ours (ours = "theirs"). Obvious names are sniffed without this.
# [mapping.orders]
# customer_id = "CustomerID"
# ordered_at = "InvoiceDate"
# amount = "Total"
"#
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_parses_to_defaults() {
        let c: Config = toml::from_str(Config::template()).expect("template is valid toml");
        assert_eq!(c.project.timezone, "UTC");
        assert!(c.mapping.is_empty());
    }

    #[test]
    fn mapping_block() {
        let c: Config = toml::from_str(
            "[mapping.orders]\ncustomer_id = \"CustomerID\"\n[project]\ntimezone = \"Asia/Shanghai\"\n",
        )
        .expect("valid");
        assert_eq!(c.mapping["orders"]["customer_id"], "CustomerID");
        assert!(c.time_zone().is_ok());
    }

    #[test]
    fn bad_zone_is_reported() {
        let c: Config =
            toml::from_str("[project]\ntimezone = \"Mars/Olympus\"\n").expect("valid toml");
        assert!(c
            .time_zone()
            .expect_err("unknown zone")
            .contains("Mars/Olympus"));
    }
}
