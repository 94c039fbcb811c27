//! `tenure serve` and `tenure keys`: parse, call the server crate, print.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use tenure_engine::store::Store;
use tenure_server::{AppState, Scope, ServeOptions};

/// Arguments of `tenure serve`.
#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on (loopback by default; put a TLS proxy in front before exposing it).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Largest request body in bytes (413 beyond).
    #[arg(long, default_value_t = 1 << 20)]
    body_limit: usize,
    /// Seconds a request may take (503 beyond).
    #[arg(long, default_value_t = 30)]
    timeout: u64,
    /// Store connections serving requests (default: cores, 2 to 8).
    #[arg(long)]
    workers: Option<usize>,
}

/// The scope of a new key.
#[derive(Clone, Copy, ValueEnum)]
pub enum ScopeArg {
    /// Read customers, segments, models.
    Read,
    /// Also create segments.
    Write,
    /// Also see personal data unmasked.
    Admin,
}

/// `tenure keys …`.
#[derive(Subcommand)]
pub enum KeysCommand {
    /// Create an API key; its secret is printed once and stored only as a salted hash.
    Create {
        /// What the key may do: read < write (create segments) < admin (unmasked PII).
        #[arg(long, value_enum)]
        scope: ScopeArg,
        /// A label, e.g. who or what uses it.
        #[arg(long)]
        name: Option<String>,
    },
    /// List keys (ids, names, scopes, dates; never secrets).
    List,
    /// Revoke a key by id (takes effect when the server next starts).
    Revoke {
        /// The key id from `tenure keys list`.
        id: String,
    },
}

/// Run `tenure serve` until Ctrl-C.
pub fn serve(project: &Path, args: ServeArgs, json: bool) -> Result<()> {
    let defaults = ServeOptions::default();
    let opts = ServeOptions {
        addr: args.addr,
        body_limit: args.body_limit,
        timeout: Duration::from_secs(args.timeout.max(1)),
        workers: args.workers.unwrap_or(defaults.workers),
        ..defaults
    };
    tenure_server::run(project, opts, |addr, state: &AppState| {
        if json {
            println!(
                "{}",
                serde_json::json!({"listening": format!("http://{addr}"), "keys": state.active_keys()})
            );
        } else {
            println!("tenure serving {} on http://{addr}", project.display());
            println!("  API: http://{addr}/v1/…  spec: http://{addr}/openapi.json  metrics: http://{addr}/metrics");
            println!("  dashboard: http://{addr}/ui (sign in with a key)");
            if state.active_keys() == 0 {
                println!("  no API keys yet: stop the server and run `tenure keys create --scope read`");
            }
            println!("  request logs (JSON) go to stderr; Ctrl-C stops");
        }
    })
    .context("tenure serve")
}

/// Run `tenure keys …`.
pub fn keys(project: &Path, cmd: KeysCommand, json: bool) -> Result<()> {
    let store = Store::open(project)
        .context("open the project (a running `tenure serve` holds it: stop it to manage keys)")?;
    match cmd {
        KeysCommand::Create { scope, name } => {
            let scope = match scope {
                ScopeArg::Read => Scope::Read,
                ScopeArg::Write => Scope::Write,
                ScopeArg::Admin => Scope::Admin,
            };
            let key = tenure_server::create_key(
                &store,
                scope,
                name.as_deref(),
                chrono::Utc::now().naive_utc(),
            )?;
            if json {
                println!("{}", serde_json::to_string_pretty(&key)?);
            } else {
                println!("{}", key.token);
                eprintln!(
                    "created {} key {} — the line above is the key; it is shown only this once",
                    key.scope.as_str(),
                    key.key_id
                );
            }
        }
        KeysCommand::List => {
            let keys = tenure_server::list_keys(&store)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&keys)?);
            } else {
                println!(
                    "{:<14} {:<7} {:<8} {:<20} name",
                    "id", "scope", "status", "created (UTC)"
                );
                for k in keys {
                    println!(
                        "{:<14} {:<7} {:<8} {:<20} {}",
                        k.key_id,
                        k.scope,
                        if k.revoked { "revoked" } else { "active" },
                        k.created_at.format("%Y-%m-%d %H:%M:%S"),
                        k.name.unwrap_or_default()
                    );
                }
            }
        }
        KeysCommand::Revoke { id } => {
            tenure_server::revoke_key(&store, &id)?;
            if json {
                println!("{}", serde_json::json!({"revoked": id}));
            } else {
                println!("revoked key {id}");
            }
        }
    }
    Ok(())
}

/// Which demo project `tenure demo` serves.
#[derive(Clone, Copy, ValueEnum)]
pub enum DemoProject {
    /// The generated shop: every table, reviews, masked personal data.
    Shop,
    /// The CDNOW sample: real orders only.
    Cdnow,
}

/// How `tenure demo` serves the dashboard after building the projects.
#[derive(Args)]
pub struct DemoServeArgs {
    /// Serve the dashboard when done (the default when run from a terminal).
    #[arg(long, conflicts_with = "no_serve")]
    serve: bool,
    /// Stop after writing the report (the default when not run from a terminal, e.g. in CI).
    #[arg(long)]
    no_serve: bool,
    /// Which demo project the dashboard shows.
    #[arg(long, value_enum, default_value = "shop")]
    serve_project: DemoProject,
    /// Address the dashboard listens on (loopback by default).
    #[arg(long = "addr", default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
}

/// After `tenure demo`: create a read key for a demo project and serve the API and dashboard on
/// it until Ctrl-C, printing the URL and the key. Serves only when asked (`--serve`) or when
/// standard input is a terminal, so scripts and CI that run the demo still terminate.
pub fn demo_serve(
    report: &tenure_engine::DemoReport,
    args: DemoServeArgs,
    json: bool,
) -> Result<()> {
    use std::io::IsTerminal;
    let wanted = args.serve || (!args.no_serve && std::io::stdin().is_terminal());
    if !wanted {
        if !json {
            println!("Not serving (no terminal or --no-serve): run `tenure demo --serve` to open the dashboard.");
        }
        return Ok(());
    }
    let project = match args.serve_project {
        DemoProject::Shop => &report.shop.dir,
        DemoProject::Cdnow => &report.cdnow.dir,
    };
    let key = {
        let store = Store::open(project).context("open the demo project to create a key")?;
        tenure_server::create_key(
            &store,
            Scope::Read,
            Some("demo"),
            chrono::Utc::now().naive_utc(),
        )?
    };
    let opts = ServeOptions {
        addr: args.addr,
        ..ServeOptions::default()
    };
    tenure_server::run(project, opts, |addr, _state: &AppState| {
        if json {
            println!(
                "{}",
                serde_json::json!({
                    "dashboard": format!("http://{addr}/ui"),
                    "project": project.display().to_string(),
                    "read_key": key.token,
                })
            );
        } else {
            println!();
            println!("Dashboard of {}: http://{addr}/ui", project.display());
            println!("Read key (sign in with it; shown once): {}", key.token);
            println!("API: curl -H 'Authorization: Bearer <key>' http://{addr}/v1/segments");
            println!("Ctrl-C stops the server.");
        }
    })
    .context("serve the demo dashboard (another process may hold the port: pass --addr)")
}
