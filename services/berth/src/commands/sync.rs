//! `berth sync policy create|list|get|update|rm`, `berth sync run POLICY [--watch]`,
//! `berth sync executions`, `berth sync tasks`, `berth sync watch`, `berth sync cancel`.

use std::time::{Duration, Instant};

use anyhow::bail;
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use reqwest::Method;
use serde_json::{json, Map, Value};

use super::segment;
use crate::client::Client;
use crate::output::{print, Format};

const POLICY_COLUMNS: &[(&str, &str)] = &[
    ("NAME", "/name"),
    ("SOURCE", "/source/registry"),
    ("SOURCE_SPACE", "/source/space"),
    ("DESTINATION", "/destination/registry"),
    ("DEST_SPACE", "/destination/space"),
    ("TRIGGER", "/trigger/kind"),
    ("CRON", "/trigger/cron"),
    ("ENABLED", "/enabled"),
];

const EXECUTION_COLUMNS: &[(&str, &str)] = &[
    ("ID", "/id"),
    ("POLICY", "/policy"),
    ("TRIGGER", "/trigger"),
    ("STATUS", "/status"),
    ("TOTAL", "/total"),
    ("SUCCEEDED", "/succeeded"),
    ("FAILED", "/failed"),
    ("SKIPPED", "/skipped"),
    ("BYTES", "/bytes"),
    ("STARTED", "/started_at"),
];

const TASK_COLUMNS: &[(&str, &str)] = &[
    ("SOURCE", "/source_repository"),
    ("DESTINATION", "/destination_repository"),
    ("TAG", "/reference"),
    ("STATUS", "/status"),
    ("ATTEMPTS", "/attempts"),
    ("BYTES", "/bytes"),
    ("ERROR", "/error"),
];

#[derive(Subcommand)]
pub enum SyncCommand {
    /// Replication policies.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Run a policy now.
    Run(RunArgs),
    /// Executions, newest first.
    Executions {
        /// Only this policy's executions.
        #[arg(long)]
        policy: Option<String>,
    },
    /// The tasks (one per artifact) of an execution.
    Tasks {
        /// The execution's id.
        execution: String,
        /// Only tasks in this status (pending, running, succeeded, failed, skipped, cancelled).
        #[arg(long)]
        status: Option<String>,
    },
    /// Follow an execution with a progress bar until it ends.
    Watch {
        /// The execution's id.
        execution: String,
    },
    /// Cancel an execution: transfers in flight stop.
    Cancel {
        /// The execution's id.
        execution: String,
    },
}

#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Create a policy.
    Create(Box<CreateArgs>),
    /// List policies.
    List,
    /// Show a policy.
    Get {
        /// The policy's name.
        name: String,
    },
    /// Change a policy; only the flags given change.
    Update(Box<UpdateArgs>),
    /// Delete a policy (its executions go with it).
    Rm {
        /// The policy's name.
        name: String,
    },
}

#[derive(Args)]
pub struct RunArgs {
    /// The policy's name.
    policy: String,
    /// Follow the execution until it ends (a progress bar; with -o json, one line per change).
    #[arg(long)]
    watch: bool,
    /// Check every artifact at the destination instead of trusting recorded digests.
    #[arg(long)]
    verify: bool,
}

/// Flags shared by create and update.
#[derive(Args)]
pub struct PolicyFlags {
    /// Repository patterns to include (doublestar: `*` in a segment, `**` across).
    #[arg(long = "repo")]
    repos: Vec<String>,
    /// Repository patterns to leave out.
    #[arg(long = "exclude-repo")]
    exclude_repos: Vec<String>,
    /// Tag patterns to include.
    #[arg(long = "tag")]
    tags: Vec<String>,
    /// Tag patterns to leave out.
    #[arg(long = "exclude-tag")]
    exclude_tags: Vec<String>,
    /// manual, cron or push.
    #[arg(long)]
    trigger: Option<String>,
    /// Cron schedule (5 fields, or 6 with seconds).
    #[arg(long)]
    cron: Option<String>,
    /// IANA time zone of the schedule (default UTC).
    #[arg(long)]
    time_zone: Option<String>,
    /// Replace destination tags that point elsewhere.
    #[arg(long = "override")]
    overwrite: Option<bool>,
    /// Platforms to copy from multi-arch indexes (repeatable), e.g. linux/amd64.
    #[arg(long = "platform")]
    platforms: Vec<String>,
    /// Copy signatures, SBOMs and other referrers (default true; `--referrers false` opts out).
    #[arg(long)]
    referrers: Option<bool>,
    /// Bytes per second for the whole policy (0: unlimited).
    #[arg(long)]
    bandwidth: Option<u64>,
    /// Artifacts in flight per worker (0: default).
    #[arg(long)]
    concurrency: Option<u32>,
    /// Delete at the destination what is deleted at the source.
    #[arg(long)]
    delete_propagation: Option<bool>,
    /// Leading source path segments the destination space replaces (-1: keep the last).
    #[arg(long, allow_hyphen_values = true)]
    replace_count: Option<i32>,
}

#[derive(Args)]
pub struct CreateArgs {
    /// The policy's name.
    name: String,
    /// REGISTRY or REGISTRY/SPACE.
    #[arg(long)]
    from: String,
    /// REGISTRY or REGISTRY/SPACE.
    #[arg(long)]
    to: String,
    #[command(flatten)]
    flags: PolicyFlags,
    /// Create it disabled (no cron or push runs).
    #[arg(long)]
    disabled: bool,
}

#[derive(Args)]
pub struct UpdateArgs {
    /// The policy's name.
    name: String,
    /// Let cron and push run the policy again.
    #[arg(long, conflicts_with = "disable")]
    enable: bool,
    /// Stop cron and push runs (manual runs still work).
    #[arg(long)]
    disable: bool,
    #[command(flatten)]
    flags: PolicyFlags,
}

fn endpoint(s: &str) -> Value {
    match s.split_once('/') {
        Some((registry, space)) => json!({"registry": registry, "space": space}),
        None => json!({"registry": s}),
    }
}

impl PolicyFlags {
    /// The fields these flags set, as a JSON merge patch.
    fn patch(&self) -> Map<String, Value> {
        let mut p = Map::new();
        let filters: Vec<Value> = [
            ("repository", &self.repos, false),
            ("repository", &self.exclude_repos, true),
            ("tag", &self.tags, false),
            ("tag", &self.exclude_tags, true),
        ]
        .iter()
        .flat_map(|(kind, patterns, exclude)| {
            patterns
                .iter()
                .map(move |pattern| json!({"kind": kind, "pattern": pattern, "exclude": exclude}))
        })
        .collect();
        if !filters.is_empty() {
            p.insert("filters".into(), filters.into());
        }
        if self.trigger.is_some() || self.cron.is_some() || self.time_zone.is_some() {
            let kind = self.trigger.clone().unwrap_or_else(|| {
                if self.cron.is_some() {
                    "cron"
                } else {
                    "manual"
                }
                .into()
            });
            let mut t = json!({"kind": kind});
            if let Some(c) = &self.cron {
                t["cron"] = c.clone().into();
            }
            if let Some(z) = &self.time_zone {
                t["time_zone"] = z.clone().into();
            }
            p.insert("trigger".into(), t);
        }
        let mut set = |key: &str, v: Option<Value>| {
            if let Some(v) = v {
                p.insert(key.into(), v);
            }
        };
        set("override", self.overwrite.map(Value::from));
        set(
            "platforms",
            (!self.platforms.is_empty()).then(|| self.platforms.clone().into()),
        );
        set("copy_referrers", self.referrers.map(Value::from));
        set("bandwidth_limit", self.bandwidth.map(Value::from));
        set("concurrency", self.concurrency.map(Value::from));
        set(
            "delete_propagation",
            self.delete_propagation.map(Value::from),
        );
        p
    }
}

pub async fn run(client: &Client, format: Format, cmd: SyncCommand) -> anyhow::Result<()> {
    match cmd {
        SyncCommand::Policy(c) => policy(client, format, c).await,
        SyncCommand::Run(a) => {
            let mut path = format!("/api/v1/replication/policies/{}/run", segment(&a.policy));
            if a.verify {
                path.push_str("?verify=true");
            }
            let e = client.call(Method::POST, &path, None).await?;
            if a.watch {
                watch(client, format, e["id"].as_str().unwrap_or_default()).await
            } else {
                print(format, &e, EXECUTION_COLUMNS);
                Ok(())
            }
        }
        SyncCommand::Executions { policy } => {
            let path = match policy {
                Some(p) => format!("/api/v1/replication/executions?policy={}", segment(&p)),
                None => "/api/v1/replication/executions".into(),
            };
            print(format, &client.get(&path).await?, EXECUTION_COLUMNS);
            Ok(())
        }
        SyncCommand::Tasks { execution, status } => {
            let mut path = format!(
                "/api/v1/replication/executions/{}/tasks?page_size=1000",
                segment(&execution)
            );
            if let Some(s) = status {
                path.push_str(&format!("&status={}", segment(&s)));
            }
            print(format, &client.get(&path).await?, TASK_COLUMNS);
            Ok(())
        }
        SyncCommand::Watch { execution } => watch(client, format, &execution).await,
        SyncCommand::Cancel { execution } => {
            let path = format!(
                "/api/v1/replication/executions/{}/cancel",
                segment(&execution)
            );
            print(
                format,
                &client.call(Method::POST, &path, None).await?,
                EXECUTION_COLUMNS,
            );
            Ok(())
        }
    }
}

async fn policy(client: &Client, format: Format, cmd: PolicyCommand) -> anyhow::Result<()> {
    let base = "/api/v1/replication/policies";
    let value = match cmd {
        PolicyCommand::Create(a) => {
            let mut body = a.flags.patch();
            body.insert("name".into(), a.name.into());
            body.insert("source".into(), endpoint(&a.from));
            let mut to = endpoint(&a.to);
            if let Some(n) = a.flags.replace_count {
                to["replace_count"] = n.into();
            }
            body.insert("destination".into(), to);
            if a.disabled {
                body.insert("enabled".into(), false.into());
            }
            client
                .call(Method::POST, base, Some(&Value::Object(body)))
                .await?
        }
        PolicyCommand::List => client.get(base).await?,
        PolicyCommand::Get { name } => client.get(&format!("{base}/{}", segment(&name))).await?,
        PolicyCommand::Update(a) => {
            let mut patch = a.flags.patch();
            if a.enable || a.disable {
                patch.insert("enabled".into(), a.enable.into());
            }
            if let Some(n) = a.flags.replace_count {
                patch.insert("destination".into(), json!({"replace_count": n}));
            }
            if patch.is_empty() {
                bail!("nothing to change: give at least one flag");
            }
            client
                .call(
                    Method::PATCH,
                    &format!("{base}/{}", segment(&a.name)),
                    Some(&Value::Object(patch)),
                )
                .await?
        }
        PolicyCommand::Rm { name } => {
            client
                .call(Method::DELETE, &format!("{base}/{}", segment(&name)), None)
                .await?;
            crate::output::done(
                format,
                &format!("policy {name} deleted"),
                &format!("{base}/{}", segment(&name)),
            );
            return Ok(());
        }
    };
    print(format, &value, POLICY_COLUMNS);
    Ok(())
}

use crate::output::human_bytes as human;

/// The progress line: artifacts done of total, bytes, rate and ETA.
fn progress_message(e: &Value, elapsed: Duration) -> String {
    let n = |k: &str| e[k].as_u64().unwrap_or(0);
    let done = n("succeeded") + n("failed") + n("skipped");
    let secs = elapsed.as_secs_f64().max(0.001);
    let rate = n("bytes") as f64 / secs;
    let eta = if done > 0 && n("total") > done {
        let left = (n("total") - done) as f64 * secs / done as f64;
        format!("ETA {}s", left.round())
    } else {
        "ETA -".into()
    };
    format!(
        "{} · {}/s · {} failed · {eta}",
        human(n("bytes") as f64),
        human(rate),
        n("failed")
    )
}

/// Follows an execution until it ends, and fails when it does not succeed. For people: a
/// spinner while the execution plans, then a progress bar of artifacts with bytes, rate and
/// ETA. With `-o json` one JSON line per change of the execution (`-o yaml`: one document).
async fn watch(client: &Client, format: Format, id: &str) -> anyhow::Result<()> {
    let path = format!("/api/v1/replication/executions/{}", segment(id));
    let people = format == Format::Table;
    let planning =
        ProgressStyle::with_template("{spinner} planning · {msg}").expect("progress template");
    let copying =
        ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} artifacts · {msg}")
            .expect("progress template")
            .progress_chars("=> ");
    let bar = if people {
        ProgressBar::new(0).with_style(planning)
    } else {
        ProgressBar::hidden()
    };
    let mut planned = false;
    let mut last = Value::Null;
    let started = Instant::now();
    let e = loop {
        let e = client.get(&path).await?;
        let n = |k: &str| e[k].as_u64().unwrap_or(0);
        let status = e["status"].as_str().unwrap_or_default().to_string();
        if people {
            // No full bar at 0/0: the total is known once planning has found the artifacts.
            if !planned && n("total") > 0 {
                planned = true;
                bar.set_style(copying.clone());
            }
            bar.set_length(n("total"));
            bar.set_position(n("succeeded") + n("failed") + n("skipped"));
            bar.set_message(progress_message(&e, started.elapsed()));
            bar.tick();
        } else if e != last {
            match format {
                Format::Json => println!("{}", serde_json::to_string(&e)?),
                _ => print!("---\n{}", crate::output::yaml(&e)),
            }
            last = e.clone();
        }
        if !matches!(status.as_str(), "pending" | "running") {
            break e;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    bar.finish_and_clear();
    let status = e["status"].as_str().unwrap_or_default().to_string();
    if people {
        println!(
            "execution {id} {status} in {}: {} copied, {} skipped, {} failed of {}, {}",
            crate::output::human_duration(started.elapsed().as_secs() as i64),
            e["succeeded"],
            e["skipped"],
            e["failed"],
            e["total"],
            human(e["bytes"].as_u64().unwrap_or(0) as f64)
        );
    }
    if status != "succeeded" {
        let cause = e["error"].as_str().filter(|s| !s.is_empty());
        // With tasks, their causes are where to look; without (planning failed), the cause is
        // the execution's own error.
        if e["failed"].as_u64().unwrap_or(0) > 0 {
            let cause = cause.map(|s| format!("{s}; ")).unwrap_or_default();
            bail!(
                "execution {id} {status}: {cause}the failed tasks and their causes: `berth sync tasks {id} --status failed`"
            );
        }
        let cause = cause.map(str::to_string).unwrap_or_else(|| {
            format!("no task failed; `berth sync tasks {id}` lists what it did")
        });
        bail!("execution {id} {status}: {cause}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_become_a_merge_patch_with_only_what_was_given() {
        let flags = PolicyFlags {
            repos: vec!["team/**".into()],
            exclude_repos: vec![],
            tags: vec![],
            exclude_tags: vec!["*-rc".into()],
            trigger: None,
            cron: Some("0 3 * * *".into()),
            time_zone: Some("Europe/Paris".into()),
            overwrite: None,
            platforms: vec![],
            referrers: Some(true),
            bandwidth: None,
            concurrency: None,
            delete_propagation: None,
            replace_count: None,
        };
        let p = Value::Object(flags.patch());
        assert_eq!(
            p,
            json!({
                "filters": [
                    {"kind": "repository", "pattern": "team/**", "exclude": false},
                    {"kind": "tag", "pattern": "*-rc", "exclude": true}
                ],
                "trigger": {"kind": "cron", "cron": "0 3 * * *", "time_zone": "Europe/Paris"},
                "copy_referrers": true
            })
        );
        assert_eq!(
            endpoint("dst/mirror"),
            json!({"registry": "dst", "space": "mirror"})
        );
        assert_eq!(endpoint("dst"), json!({"registry": "dst"}));
    }

    #[test]
    fn progress_shows_bytes_rate_and_eta() {
        let e = json!({"total": 10, "succeeded": 4, "failed": 1, "skipped": 0, "bytes": 2_097_152});
        let m = progress_message(&e, Duration::from_secs(2));
        assert_eq!(m, "2.0 MiB · 1.0 MiB/s · 1 failed · ETA 2s");
    }
}
