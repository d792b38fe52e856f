//! A real single-node Slurm for the tests: Debian's munged, slurmctld and slurmd (slurm-wlm,
//! installed by `make test`), started in a temporary folder with a generated `slurm.conf`
//! (this host, CPU only, two slots, free ports) and stopped when the value is dropped.
//! Commands run with `SLURM_CONF` pointing at it, so the machine's own Slurm, if any, is not
//! touched. Needs root (slurmd starts the jobs as their users).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running cluster of one node.
pub struct Slurm {
    dir: tempfile::TempDir,
    daemons: Vec<(String, Child)>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn need(tool: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "{tool} not found: the Slurm tests need Debian's slurmctld, slurmd, slurm-client and \
         munge (`make test` installs them as root: apt-get install slurmctld slurmd \
         slurm-client munge)"
    );
}

impl Slurm {
    /// Starts munged, slurmctld and slurmd; fails with their own logs if the node does not
    /// come up within 60 s.
    pub fn start() -> Self {
        for tool in [
            "munged",
            "slurmctld",
            "slurmd",
            "sbatch",
            "scontrol",
            "squeue",
            "sinfo",
        ] {
            need(tool);
        }
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        // munged wants its socket's folders searchable by everyone and its key private.
        set_mode(&root, 0o755);
        for d in ["munge", "key", "state", "spool"] {
            std::fs::create_dir(root.join(d)).unwrap();
        }
        set_mode(&root.join("munge"), 0o755);
        set_mode(&root.join("key"), 0o700);
        let key: Vec<u8> = (0..1024u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        std::fs::write(root.join("key/munge.key"), key).unwrap();
        set_mode(&root.join("key/munge.key"), 0o400);

        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .unwrap()
            .trim()
            .split('.')
            .next()
            .unwrap()
            .to_string();
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get().min(2));
        let r = root.display();
        // cred_expire: how long a requeued job waits before it may start again (120 s by
        // default; the requeue test would spend most of its time waiting).
        let conf = format!(
            "ClusterName=niclabtest\n\
             SlurmctldHost={host}(127.0.0.1)\n\
             SlurmctldPort={}\n\
             SlurmdPort={}\n\
             SlurmUser=root\n\
             SlurmdUser=root\n\
             AuthType=auth/munge\n\
             CredType=cred/munge\n\
             AuthInfo=socket={r}/munge/munge.sock,cred_expire=10\n\
             StateSaveLocation={r}/state\n\
             SlurmdSpoolDir={r}/spool\n\
             SlurmctldPidFile={r}/slurmctld.pid\n\
             SlurmdPidFile={r}/slurmd.pid\n\
             SlurmctldLogFile={r}/slurmctld.log\n\
             SlurmdLogFile={r}/slurmd.log\n\
             ProctrackType=proctrack/linuxproc\n\
             TaskPlugin=task/none\n\
             SelectType=select/cons_tres\n\
             SelectTypeParameters=CR_CPU\n\
             MpiDefault=none\n\
             SwitchType=switch/none\n\
             JobAcctGatherType=jobacct_gather/none\n\
             AccountingStorageType=accounting_storage/none\n\
             JobCompType=jobcomp/none\n\
             ReturnToService=2\n\
             SchedulerType=sched/builtin\n\
             NodeName=niclabnode NodeHostname={host} NodeAddr=127.0.0.1 CPUs={cpus} \
             RealMemory=1000 State=UNKNOWN\n\
             PartitionName=test Nodes=niclabnode Default=YES MaxTime=INFINITE State=UP\n",
            free_port(),
            free_port()
        );
        std::fs::write(root.join("slurm.conf"), conf).unwrap();

        let mut slurm = Self {
            dir,
            daemons: Vec::new(),
        };
        slurm.spawn(
            "munged",
            &[
                "-F",
                "--force",
                &format!("--key-file={r}/key/munge.key"),
                &format!("--socket={r}/munge/munge.sock"),
                &format!("--pid-file={r}/munge/munged.pid"),
                &format!("--log-file={r}/munge/munged.log"),
                &format!("--seed-file={r}/key/munged.seed"),
            ],
        );
        slurm.wait_for("munged's socket", || root.join("munge/munge.sock").exists());
        let conf = format!("{r}/slurm.conf");
        slurm.spawn("slurmctld", &["-D", "-i", "-f", &conf]);
        slurm.spawn("slurmd", &["-D", "-N", "niclabnode", "-f", &conf]);
        let conf = slurm.conf();
        slurm.wait_for("the node to be idle", || {
            Command::new("sinfo")
                .env("SLURM_CONF", &conf)
                .args(["-h", "-o", "%t"])
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "idle")
        });
        slurm
    }

    fn spawn(&mut self, name: &str, args: &[&str]) {
        let log = std::fs::File::create(self.dir.path().join(format!("{name}.out"))).unwrap();
        let child = Command::new(name)
            .args(args)
            .env("SLURM_CONF", self.conf())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        self.daemons.push((name.to_string(), child));
    }

    /// Waits up to 60 s for `ready`; on time-out (or a daemon that died) fails with the
    /// daemons' own output.
    fn wait_for(&mut self, what: &str, mut ready: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if ready() {
                return;
            }
            let died: Vec<String> = self
                .daemons
                .iter_mut()
                .filter_map(|(n, c)| c.try_wait().ok().flatten().map(|s| format!("{n} ({s})")))
                .collect();
            if !died.is_empty() || Instant::now() > deadline {
                panic!(
                    "Slurm did not come up (waiting for {what}; exited: {died:?}):\n{}",
                    self.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The daemons' output and logs.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        for f in [
            "munged.out",
            "munge/munged.log",
            "slurmctld.out",
            "slurmctld.log",
            "slurmd.out",
            "slurmd.log",
        ] {
            let text = std::fs::read_to_string(self.dir.path().join(f)).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(30).collect();
            out.push_str(&format!("--- {f}\n"));
            for l in tail.into_iter().rev() {
                out.push_str(l);
                out.push('\n');
            }
        }
        out
    }

    /// Its `slurm.conf`.
    pub fn conf(&self) -> PathBuf {
        self.dir.path().join("slurm.conf")
    }

    /// A Slurm client command (or niclab) talking to this cluster.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        c.env("SLURM_CONF", self.conf()).stdin(Stdio::null());
        c
    }

    /// Runs a client command, failing the test with its stderr and the logs unless it exits 0.
    pub fn run(&self, program: &str, args: &[&str]) -> String {
        let out = self.command(program).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{program} {args:?}: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.logs()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until none of `jobs` is queued or running any more (up to `limit`).
    pub fn wait_jobs(&self, jobs: &[&str], limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            let queued = self.run("squeue", &["-h", "-o", "%i %T %r", "-j", &jobs.join(",")]);
            if queued.trim().is_empty() {
                return;
            }
            // A job whose dependency failed would wait for ever.
            assert!(
                !queued.contains("DependencyNeverSatisfied"),
                "a job's dependency failed:\n{queued}\n{}",
                self.logs()
            );
            assert!(
                Instant::now() < deadline,
                "jobs still queued after {limit:?}:\n{queued}\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// A job's final state and exit code (`COMPLETED 0:0`), from slurmctld's memory.
    pub fn job_state(&self, job: &str) -> String {
        let text = self.run("scontrol", &["show", "job", job]);
        let field = |k: &str| {
            text.split_whitespace()
                .find_map(|w| w.strip_prefix(&format!("{k}=")))
                .unwrap_or("?")
                .to_string()
        };
        format!("{} {}", field("JobState"), field("ExitCode"))
    }
}

impl Drop for Slurm {
    fn drop(&mut self) {
        // Jobs first: their slurmstepd outlives slurmd otherwise.
        let _ = self.command("scancel").args(["--user", "root"]).output();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline
            && self
                .command("squeue")
                .args(["-h", "-t", "RUNNING,COMPLETING"])
                .output()
                .is_ok_and(|o| !o.stdout.is_empty())
        {
            std::thread::sleep(Duration::from_millis(200));
        }
        for (_, child) in self.daemons.iter_mut().rev() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
        }
        for (_, child) in self.daemons.iter_mut().rev() {
            let deadline = Instant::now() + Duration::from_secs(10);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}
