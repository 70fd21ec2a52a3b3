//! Finding a Postgres server: `DATABASE_URL`, a server on localhost:5432, or a private
//! cluster under `target/xtask/pg` that is stopped again when [`Postgres`] is dropped.

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use anyhow::{anyhow, bail, Context, Result};
use sqlx::{Connection, PgConnection};
use url::Url;

use crate::{paths, process::free_port};

pub struct Postgres {
    admin_url: Url,
    /// Set when we started a private cluster; dropping it stops the server.
    _cluster: Option<Cluster>,
}

impl Postgres {
    /// Finds a server to use, in the order described in the module docs.
    pub async fn find() -> Result<Self> {
        if let Ok(url) = std::env::var("DATABASE_URL") {
            let admin_url = Url::parse(&url).context("DATABASE_URL is not a valid URL")?;
            connect(admin_url.as_str())
                .await
                .context("cannot connect to DATABASE_URL")?;
            println!("Postgres: the server in DATABASE_URL");
            return Ok(Self::new(admin_url, None));
        }

        let mut users = vec!["postgres".to_owned()];
        users.extend(std::env::var("USER").ok().filter(|u| u != "postgres"));
        let mut local_error = None;
        for user in users {
            let url = Url::parse(&format!("postgres://{user}@127.0.0.1:5432/postgres"))?;
            match connect(url.as_str()).await {
                Ok(()) => {
                    println!("Postgres: the server on localhost:5432 (user {user})");
                    return Ok(Self::new(url, None));
                }
                Err(err) => local_error = Some(err),
            }
        }
        let local_error = local_error.expect("at least one user was tried");

        let cluster = Cluster::start().await.map_err(|err| {
            anyhow!(
                "no Postgres to use.\n  DATABASE_URL: not set\n  localhost:5432: \
                 {local_error:#}\n  private cluster: {err:#}"
            )
        })?;
        let url = Url::parse(&format!(
            "postgres://postgres@127.0.0.1:{}/postgres",
            cluster.port
        ))?;
        connect(url.as_str()).await?;
        println!(
            "Postgres: private cluster in {} on port {}",
            cluster.dir.display(),
            cluster.port
        );
        Ok(Self::new(url, Some(cluster)))
    }

    fn new(admin_url: Url, cluster: Option<Cluster>) -> Self {
        Self {
            admin_url,
            _cluster: cluster,
        }
    }

    /// The URL to connect to as an administrator (it may create databases).
    pub fn admin_url(&self) -> &str {
        self.admin_url.as_str()
    }

    /// The same server, database `name`.
    pub fn database_url(&self, name: &str) -> String {
        let mut url = self.admin_url.clone();
        url.set_path(name);
        url.into()
    }

    /// Creates database `name` unless it exists; true if it was created.
    pub async fn ensure_database(&self, name: &str) -> Result<bool> {
        let mut conn = PgConnection::connect(self.admin_url()).await?;
        let exists: Option<i32> =
            sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
                .bind(name)
                .fetch_optional(&mut conn)
                .await?;
        if exists.is_none() {
            sqlx::raw_sql(&format!("CREATE DATABASE {}", quote_ident(name)))
                .execute(&mut conn)
                .await
                .with_context(|| format!("creating database {name}"))?;
        }
        Ok(exists.is_none())
    }

    /// Drops database `name` (ending its sessions) and creates it empty.
    pub async fn recreate_database(&self, name: &str) -> Result<()> {
        let mut conn = PgConnection::connect(self.admin_url()).await?;
        let ident = quote_ident(name);
        sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {ident} WITH (FORCE)"))
            .execute(&mut conn)
            .await
            .with_context(|| format!("dropping database {name}"))?;
        sqlx::raw_sql(&format!("CREATE DATABASE {ident}"))
            .execute(&mut conn)
            .await
            .with_context(|| format!("creating database {name}"))?;
        Ok(())
    }
}

async fn connect(url: &str) -> Result<()> {
    let conn = tokio::time::timeout(Duration::from_secs(5), PgConnection::connect(url))
        .await
        .context("timed out")??;
    conn.close().await?;
    Ok(())
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A cluster of our own, made with the system's `initdb` and run with `pg_ctl`.
struct Cluster {
    pg_ctl: PathBuf,
    dir: PathBuf,
    port: u16,
}

impl Cluster {
    async fn start() -> Result<Self> {
        let Some(bin) = find_bin_dir() else {
            bail!(
                "no Postgres found: DATABASE_URL is not set and initdb/pg_ctl are not installed.\n\
                 Install PostgreSQL, then run this again:\n  \
                 Debian/Ubuntu: sudo apt-get install postgresql\n  \
                 Fedora:        sudo dnf install postgresql-server\n  \
                 macOS:         brew install postgresql@16\n\
                 or set DATABASE_URL to a server where you may create databases."
            );
        };
        // SAFETY: geteuid has no preconditions and cannot fail.
        if unsafe { libc::geteuid() } == 0 {
            bail!(
                "initdb refuses to run as root, so no private cluster can be made.\n\
                 Start the system server instead (`service postgresql start`, or on Debian \
                 `pg_ctlcluster <version> main start`) with trust auth for user postgres on \
                 127.0.0.1, or set DATABASE_URL."
            );
        }

        let dir = paths::xtask().join("pg");
        let data = dir.join("data");
        let pg_ctl = bin.join("pg_ctl");
        if !data.join("PG_VERSION").exists() {
            std::fs::create_dir_all(&dir)?;
            println!("Postgres: creating a private cluster in {}", data.display());
            run_quietly(
                Command::new(bin.join("initdb")).arg("-D").arg(&data).args([
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--no-locale",
                ]),
                &dir.join("initdb.log"),
            )?;
        }
        // A server left behind by an interrupted run holds the data directory.
        if data.join("postmaster.pid").exists() {
            let _ = Command::new(&pg_ctl)
                .arg("stop")
                .arg("-D")
                .arg(&data)
                .args(["-m", "fast", "-s"])
                .status();
        }

        let port = free_port()?;
        let options = format!("-p {port} -c listen_addresses=127.0.0.1 -k ''");
        run_quietly(
            Command::new(&pg_ctl)
                .arg("start")
                .arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(dir.join("postgres.log"))
                .args(["-w", "-s", "-o", &options]),
            &dir.join("pg_ctl.log"),
        )
        .with_context(|| {
            format!(
                "starting the private cluster (see {})",
                dir.join("postgres.log").display()
            )
        })?;
        Ok(Self { pg_ctl, dir, port })
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        println!("Postgres: stopping the private cluster");
        let stopped = Command::new(&self.pg_ctl)
            .arg("stop")
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "fast", "-s"])
            .status();
        if !stopped.is_ok_and(|s| s.success()) {
            eprintln!("Postgres: could not stop the private cluster cleanly");
        }
    }
}

/// Runs `cmd` with its output in `log`; on failure the error points at the log.
fn run_quietly(cmd: &mut Command, log: &Path) -> Result<()> {
    let file = std::fs::File::create(log)?;
    let status = cmd
        .stdout(file.try_clone()?)
        .stderr(file)
        .status()
        .with_context(|| format!("running {:?}", cmd.get_program()))?;
    if !status.success() {
        bail!(
            "{:?} failed ({status}); see {}",
            cmd.get_program(),
            log.display()
        );
    }
    Ok(())
}

/// A directory holding both `initdb` and `pg_ctl`: on PATH, or where distributions put them.
fn find_bin_dir() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(versioned("/usr/lib/postgresql", ""))
        .chain(versioned("/opt/homebrew/opt", "postgresql"))
        .chain(versioned("/usr/local/opt", "postgresql"))
        .find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file())
}

/// `<parent>/<prefix>*/bin`, newest version first.
fn versioned(parent: &str, prefix: &str) -> Vec<PathBuf> {
    let mut dirs: Vec<(u32, PathBuf)> = std::fs::read_dir(parent)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let version = name.strip_prefix(prefix)?.trim_start_matches('@');
            let major = version.split('.').next()?.parse().unwrap_or(0);
            Some((major, entry.path().join("bin")))
        })
        .collect();
    dirs.sort_by_key(|(major, _)| std::cmp::Reverse(*major));
    dirs.into_iter().map(|(_, dir)| dir).collect()
}
