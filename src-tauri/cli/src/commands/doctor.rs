use twitcher_core::{doctor, Error, Twitcher};

use crate::output::Output;

pub async fn run(app: &Twitcher, out: &Output) -> Result<(), Error> {
    let report = doctor::run(app).await?;
    out.print(&report, || {
        let tool = |t: &Option<twitcher_core::media::ToolInfo>| match t {
            Some(t) => {
                format!("{} ({}, from {})", t.path, t.version.as_deref().unwrap_or("version unknown"), t.source.describe())
            }
            None => "not found".to_string(),
        };
        let mut text = format!(
            "ffmpeg          {}\nffprobe         {}\nkeyring         {}\ndata dir        {}\nlogs            {}\ncache           {}\ndatabase        {}\nschema version  {}",
            tool(&report.ffmpeg),
            tool(&report.ffprobe),
            match report.keyring {
                twitcher_core::vault::KeyringBackend::Os => "OS keyring",
                twitcher_core::vault::KeyringBackend::File => "key file in the data dir (no usable OS keyring)",
                twitcher_core::vault::KeyringBackend::KeyFile => "the file TWITCHER_VAULT_KEY_FILE names",
            },
            report.data_dir,
            report.logs_dir,
            report.cache_dir,
            if report.database == "postgres" { "PostgreSQL (shared by a fleet)" } else { "SQLite in the data dir" },
            report.schema_version,
        );
        if report.tasks.is_empty() {
            text.push_str("\ntasks           none: no window or `twitcher serve` runs on this data dir");
        } else {
            let rows: Vec<Vec<String>> = report
                .tasks
                .iter()
                .map(|t| {
                    vec![
                        t.instance_id.chars().take(8).collect(),
                        t.name.clone(),
                        t.state.as_str().to_string(),
                        t.last_turn_age_sec.map(|a| format!("{a:.0} s ago")).unwrap_or_else(|| "not yet".into()),
                        t.restarts.to_string(),
                        t.last_error.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            text.push_str("\n\n");
            text.push_str(&crate::output::table(&["PROCESS", "TASK", "STATE", "LAST TURN", "RESTARTS", "LAST ERROR"], &rows));
        }
        for problem in &report.problems {
            text.push_str(&format!("\nproblem: {problem}"));
        }
        text
    });
    Ok(())
}
