//! `berth`: `berth up` runs the whole suite in one process; the other commands are an admin
//! client of the gateway's HTTP/JSON API ([`client`]), printing tables or JSON ([`output`]).

mod client;
mod commands;
mod output;
mod up;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "berth",
    version,
    about = "Control plane for container registries"
)]
struct Cli {
    /// Gateway address.
    #[arg(
        long,
        global = true,
        env = "BERTH_SERVER",
        default_value = "http://127.0.0.1:8080"
    )]
    server: String,
    /// Bearer token (the admin token printed by `berth up`, or an API token).
    #[arg(long, global = true, env = "BERTH_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Output format.
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = output::Format::Table)]
    output: output::Format,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run every Berth service in this process (embedded SQLite, bus and cache by default).
    Up(up::UpArgs),
    /// Print a shell completion script: `source <(berth completion bash)`.
    Completion {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Run one service as its own process, configured from the environment exactly like its
    /// split binary (`berth serve registry` is `berth-registry`).
    Serve {
        /// The service to run.
        #[arg(value_enum)]
        service: Service,
    },
    /// Integrated registries.
    #[command(subcommand)]
    Registry(commands::registry::RegistryCommand),
    /// Repositories of a registry.
    #[command(subcommand)]
    Repo(commands::repo::RepoCommand),
    /// Platform totals, or one registry's with --registry.
    Overview(commands::overview::OverviewArgs),
    /// Workspaces (tenants), their namespaces and members.
    #[command(subcommand)]
    Workspace(commands::tenancy::WorkspaceCommand),
    /// Registry spaces (REGISTRY/SPACE).
    #[command(subcommand)]
    Space(commands::tenancy::SpaceCommand),
    /// Bind a space to a workspace (its namespaces and members may pull).
    Bind {
        /// The space, as REGISTRY/SPACE.
        space: String,
        /// The workspace whose namespaces and members get access.
        workspace: String,
        /// Also let the workspace's editors and admins push and delete in the space.
        #[arg(long)]
        push: bool,
    },
    /// Unbind a space from a workspace.
    Unbind {
        /// The space, as REGISTRY/SPACE.
        space: String,
        /// The workspace that loses access.
        workspace: String,
    },
    /// The access rule.
    #[command(subcommand)]
    Access(commands::tenancy::AccessCommand),
    /// Namespace pull credentials.
    #[command(subcommand)]
    Namespace(commands::tenancy::NamespaceCommand),
    /// Print a docker login command with a short-lived credential for REGISTRY.
    #[command(name = "login-command")]
    Login {
        /// The registry's name in Berth.
        registry: String,
    },
    /// Image archives: `berth image import FILE --to REGISTRY/SPACE/REPO:TAG`.
    #[command(subcommand)]
    Image(commands::image::ImageCommand),
    /// Replication: policies, runs with a progress bar, executions and their tasks.
    #[command(subcommand)]
    Sync(commands::sync::SyncCommand),
    /// Scan an image: `berth scan REGISTRY/REPO:TAG --wait`.
    Scan(commands::scan::ScanArgs),
    /// An image's vulnerabilities, worst first.
    Vulns(commands::scan::VulnsArgs),
    /// An image's software bill of materials (CycloneDX or SPDX JSON).
    Sbom(commands::scan::SbomArgs),
    /// The vulnerability database: status, import, build records from Debian packages.
    #[command(subcommand)]
    Vulndb(commands::scan::VulnDbCommand),
    /// API tokens: create, list (with last use), revoke.
    #[command(subcommand)]
    Token(commands::token::TokenCommand),
    /// The image selector: what a namespace may pull.
    Images {
        /// The Kubernetes namespace.
        #[arg(long)]
        namespace: String,
    },
}

/// A service `berth serve` runs.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum Service {
    Gateway,
    Registry,
    Space,
    Replication,
    Scan,
}

/// Exits quietly, as a command killed by SIGPIPE does (status 141, like kubectl), when stdout
/// is closed before the output is written (`berth sync executions | head -1`), instead of the
/// standard library's panic.
fn quiet_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        let closed = message.contains("Broken pipe") || message.contains("BrokenPipe");
        let printing = message.starts_with("failed printing to stdout")
            || message.contains("failed to write completion");
        if printing && closed {
            std::process::exit(141);
        }
        if printing {
            // A full disk or another write failure: said plainly, not as a panic (the error
            // may be printed as `Os { …, message: "No space left on device" }`).
            let cause = message
                .split_once("message: \"")
                .and_then(|(_, rest)| rest.split('"').next())
                .unwrap_or_else(|| message.rsplit(": ").next().unwrap_or(message));
            eprintln!("berth: cannot write the output: {cause}");
            std::process::exit(1);
        }
        default(info)
    }));
}

fn main() {
    quiet_on_closed_stdout();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Up(args) => up::run(args).await,
            Command::Completion { shell } => {
                let mut command = <Cli as clap::CommandFactory>::command();
                clap_complete::generate(shell, &mut command, "berth", &mut std::io::stdout());
                Ok(())
            }
            Command::Serve { service } => match service {
                Service::Gateway => berth_gateway::binary::run("berth serve gateway").await,
                Service::Registry => berth_registry::binary::run("berth serve registry").await,
                Service::Space => berth_space::binary::run("berth serve space").await,
                Service::Replication => {
                    berth_replication::binary::run("berth serve replication").await
                }
                Service::Scan => berth_scan::binary::run("berth serve scan").await,
            },
            other => {
                let client = client::Client::new(&cli.server, cli.token.as_deref())?;
                match other {
                    Command::Registry(c) => commands::registry::run(&client, cli.output, c).await,
                    Command::Scan(a) => commands::scan::scan(&client, cli.output, a).await,
                    Command::Vulns(a) => commands::scan::vulns(&client, cli.output, a).await,
                    Command::Sbom(a) => commands::scan::sbom(&client, a).await,
                    Command::Vulndb(c) => commands::scan::vulndb(&client, cli.output, c).await,
                    Command::Repo(c) => commands::repo::run(&client, cli.output, c).await,
                    Command::Overview(a) => commands::overview::run(&client, cli.output, a).await,
                    Command::Workspace(c) => {
                        commands::tenancy::workspace(&client, cli.output, c).await
                    }
                    Command::Space(c) => commands::tenancy::space(&client, cli.output, c).await,
                    Command::Bind {
                        space,
                        workspace,
                        push,
                    } => {
                        commands::tenancy::bind(&client, cli.output, &space, &workspace, Some(push))
                            .await
                    }
                    Command::Unbind { space, workspace } => {
                        commands::tenancy::bind(&client, cli.output, &space, &workspace, None).await
                    }
                    Command::Access(c) => commands::tenancy::access(&client, cli.output, c).await,
                    Command::Namespace(c) => {
                        commands::tenancy::namespace(&client, cli.output, c).await
                    }
                    Command::Images { namespace } => {
                        commands::tenancy::images(&client, cli.output, &namespace).await
                    }
                    Command::Login { registry } => {
                        commands::tenancy::login_command(&client, cli.output, &registry).await
                    }
                    Command::Image(c) => commands::image::run(&client, cli.output, c).await,
                    Command::Sync(c) => commands::sync::run(&client, cli.output, c).await,
                    Command::Token(c) => commands::token::run(&client, cli.output, c).await,
                    Command::Up(_) | Command::Serve { .. } | Command::Completion { .. } => {
                        unreachable!("handled above")
                    }
                }
            }
        }
    });
    if let Err(e) = result {
        // A denial was printed as the answer; its exit status says it (like `kubectl auth
        // can-i`).
        if e.downcast_ref::<commands::Denied>().is_none() {
            eprintln!("berth: {e:#}");
        }
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Every command, subcommand, flag and argument without help text, by its path.
    fn undocumented(cmd: &clap::Command, path: &str, out: &mut Vec<String>) {
        for arg in cmd.get_arguments() {
            let id = arg.get_id().as_str();
            if matches!(id, "help" | "version") {
                continue;
            }
            if arg.get_help().is_none() && arg.get_long_help().is_none() {
                out.push(format!("{path} <{id}>"));
            }
        }
        for sub in cmd.get_subcommands() {
            let name = format!("{path} {}", sub.get_name());
            if sub.get_name() == "help" {
                continue;
            }
            if sub.get_about().is_none() {
                out.push(name.clone());
            }
            undocumented(sub, &name, out);
        }
    }

    #[test]
    fn every_command_flag_and_argument_has_help() {
        let mut missing = Vec::new();
        undocumented(&super::Cli::command(), "berth", &mut missing);
        assert!(missing.is_empty(), "no help text: {missing:#?}");
    }

    #[test]
    fn the_command_tree_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
