//! Child services: started with prefixed output, checked for readiness, stopped with SIGTERM.

use std::{
    collections::HashMap,
    io,
    net::TcpListener,
    process::{ExitStatus, Stdio},
    time::Duration,
};

use anyhow::{bail, Context, Result};
use tokio::{
    io::{AsyncBufReadExt, AsyncRead, BufReader},
    process::Command,
    signal::unix::{signal, Signal, SignalKind},
    sync::mpsc,
    time::{sleep, timeout_at, Instant},
};

type Exit = (String, io::Result<ExitStatus>);

pub struct Supervisor {
    /// Children that have not exited yet, by name.
    running: HashMap<String, u32>,
    exits_tx: mpsc::UnboundedSender<Exit>,
    exits: mpsc::UnboundedReceiver<Exit>,
    http: reqwest::Client,
}

impl Supervisor {
    pub fn new() -> Result<Self> {
        let (exits_tx, exits) = mpsc::unbounded_channel();
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(2))
            .build()?;
        Ok(Self {
            running: HashMap::new(),
            exits_tx,
            exits,
            http,
        })
    }

    /// Starts `cmd` as `name`, returning its pid. It gets its own process group, so a
    /// Ctrl-C in the terminal reaches only xtask, which then stops it in order.
    pub fn spawn(&mut self, name: &str, mut cmd: Command) -> Result<u32> {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        let pid = child.id().context("child has no pid")?;
        tokio::spawn(forward(name.to_owned(), child.stdout.take(), false));
        tokio::spawn(forward(name.to_owned(), child.stderr.take(), true));
        let (tx, who) = (self.exits_tx.clone(), name.to_owned());
        tokio::spawn(async move {
            let status = child.wait().await;
            let _ = tx.send((who, status));
        });
        self.running.insert(name.to_owned(), pid);
        Ok(pid)
    }

    /// Polls `url` until it answers 2xx; fails if any child exits first or time runs out.
    pub async fn wait_ready(&mut self, name: &str, url: &str, limit: Duration) -> Result<()> {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(response) = self.http.get(url).send().await {
                if response.status().is_success() {
                    return Ok(());
                }
            }
            if Instant::now() >= deadline {
                bail!("{name} was not ready at {url} after {}s", limit.as_secs());
            }
            tokio::select! {
                (who, status) = self.next_exit() => bail!("{who} {status} before it was ready"),
                () = sleep(Duration::from_millis(200)) => {}
            }
        }
    }

    /// Waits for any child to exit: its name and how it ended.
    pub async fn next_exit(&mut self) -> (String, String) {
        let (who, status) = self
            .exits
            .recv()
            .await
            .expect("the supervisor holds a sender");
        self.running.remove(&who);
        let how = match status {
            Ok(status) => format!("exited ({status})"),
            Err(err) => format!("could not be waited for ({err})"),
        };
        (who, how)
    }

    /// Sends SIGTERM to every running child and waits up to 10 s, then kills the rest.
    pub async fn shutdown(mut self) {
        for (name, pid) in &self.running {
            println!("stopping {name}");
            send_signal(*pid, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.running.is_empty() {
            if timeout_at(deadline, self.next_exit()).await.is_err() {
                break;
            }
        }
        for (name, pid) in &self.running {
            eprintln!("{name} did not stop within 10 s; killing it");
            send_signal(*pid, libc::SIGKILL);
        }
    }
}

fn send_signal(pid: u32, signal: libc::c_int) {
    // SAFETY: kill(2) only sends a signal; the pid is a child we have not reaped yet.
    unsafe {
        libc::kill(pid as libc::pid_t, signal);
    }
}

/// Copies a child's output line by line, prefixed with its name.
async fn forward(name: String, pipe: Option<impl AsyncRead + Unpin>, to_stderr: bool) {
    let Some(pipe) = pipe else { return };
    let mut reader = BufReader::new(pipe);
    let mut line = Vec::new();
    while reader
        .read_until(b'\n', &mut line)
        .await
        .is_ok_and(|n| n > 0)
    {
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end();
        if to_stderr {
            eprintln!("{name:>10} | {text}");
        } else {
            println!("{name:>10} | {text}");
        }
        line.clear();
    }
}

/// SIGINT (Ctrl-C) and SIGTERM, caught from the moment this is made, so that xtask can
/// clean up (stop children, stop a private cluster) instead of dying at once.
pub struct StopSignal {
    interrupt: Signal,
    terminate: Signal,
}

impl StopSignal {
    pub fn listen() -> Result<Self> {
        Ok(Self {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    pub async fn recv(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }
}

/// A TCP port on 127.0.0.1 that nothing listens on right now.
pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}
