//! CPU time and memory of a process, from Linux's `/proc/PID/stat` and `/proc/PID/status`, and
//! the whole machine's CPU time, from `/proc/stat`: on a machine shared with other work, what
//! the others took is part of every figure.
//!
//! Parsing is separate from reading, so the parsers are tested on fixed text. CPU time is
//! counted in clock ticks of `USER_HZ`, which is 100 on every Linux architecture Aula runs on
//! (the kernel keeps it fixed for user space whatever `HZ` it was built with).

use std::time::Duration;

/// Clock ticks per second in `/proc/PID/stat` (`USER_HZ`).
const TICKS_PER_SEC: u64 = 100;

/// One reading of a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcSample {
    /// User plus system CPU time since the process started.
    pub cpu: Duration,
    /// Resident memory in bytes.
    pub rss_bytes: u64,
}

/// Which process: a pid, or this one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proc {
    /// Another process (the server).
    Pid(u32),
    /// `/proc/self`: the loadtest itself.
    Myself,
}

impl Proc {
    fn dir(self) -> String {
        match self {
            Proc::Pid(pid) => format!("/proc/{pid}"),
            Proc::Myself => "/proc/self".to_owned(),
        }
    }

    /// Reads CPU time and RSS now; `None` if the process is gone or `/proc` is not Linux's.
    pub fn sample(self) -> Option<ProcSample> {
        let dir = self.dir();
        let stat = std::fs::read_to_string(format!("{dir}/stat")).ok()?;
        let status = std::fs::read_to_string(format!("{dir}/status")).ok()?;
        Some(ProcSample {
            cpu: parse_cpu(&stat)?,
            rss_bytes: parse_rss(&status)?,
        })
    }
}

/// `utime + stime` (fields 14 and 15) of a `/proc/PID/stat` line. The command name (field 2)
/// may hold spaces and parentheses, so fields are counted from the last `)`.
pub fn parse_cpu(stat: &str) -> Option<Duration> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    // After the name come field 3 (state) onwards: utime is the 12th of those.
    let mut fields = after_name.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    let ticks = utime + stime;
    Some(Duration::from_millis(ticks * 1000 / TICKS_PER_SEC))
}

/// `VmRSS` of a `/proc/PID/status` text, in bytes.
pub fn parse_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The whole machine's CPU time, all cores together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MachineSample {
    /// Time the cores spent on anything but idling (and waiting for I/O).
    pub busy: Duration,
    /// All their time.
    pub total: Duration,
}

impl MachineSample {
    /// Reads `/proc/stat` now; `None` where it is not Linux's.
    pub fn now() -> Option<MachineSample> {
        parse_machine(&std::fs::read_to_string("/proc/stat").ok()?)
    }

    /// The share of the machine that was busy between `earlier` and this, 0 to 1.
    pub fn busy_since(&self, earlier: &MachineSample) -> Option<f64> {
        let total = self.total.checked_sub(earlier.total)?;
        let busy = self.busy.checked_sub(earlier.busy)?;
        (!total.is_zero()).then(|| busy.as_secs_f64() / total.as_secs_f64())
    }
}

/// The `cpu` line of `/proc/stat`: user, nice, system, idle, iowait, irq, softirq, steal (guest
/// time is already in user).
pub fn parse_machine(stat: &str) -> Option<MachineSample> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(|t| t.parse().ok())
        .collect::<Option<_>>()?;
    let [user, nice, system, idle, iowait, irq, softirq, steal] = ticks[..] else {
        return None;
    };
    let busy = user + nice + system + irq + softirq + steal;
    let to_duration = |t: u64| Duration::from_millis(t * 1000 / TICKS_PER_SEC);
    Some(MachineSample {
        busy: to_duration(busy),
        total: to_duration(busy + idle + iowait),
    })
}

/// CPU use between two samples, in percent of one core.
pub fn cpu_percent(from: &ProcSample, to: &ProcSample, wall: Duration) -> f64 {
    let cpu = to.cpu.saturating_sub(from.cpu);
    if wall.is_zero() {
        return 0.0;
    }
    cpu.as_secs_f64() / wall.as_secs_f64() * 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_is_counted_after_the_name() {
        let stat = "4242 (aula (x) y) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 130 0 0 20 0 \
                    5 0 99 123456 789 18446744073709551615";
        assert_eq!(parse_cpu(stat), Some(Duration::from_millis(3800)));
        assert_eq!(parse_cpu("12 (x) S 1"), None);
        assert_eq!(parse_cpu("garbage"), None);
    }

    #[test]
    fn rss_comes_from_vmrss() {
        let status = "Name:\taula\nVmPeak:\t  99 kB\nVmRSS:\t   14336 kB\nThreads:\t5\n";
        assert_eq!(parse_rss(status), Some(14336 * 1024));
        assert_eq!(parse_rss("Name:\tx\n"), None);
    }

    #[test]
    fn machine_time_comes_from_the_cpu_line() {
        let stat = "cpu  100 5 45 800 50 0 0 0 0 0\ncpu0 50 2 20 400 25 0 0 0 0 0\n";
        let m = parse_machine(stat).expect("a cpu line");
        assert_eq!(m.busy, Duration::from_millis(1500));
        assert_eq!(m.total, Duration::from_millis(10_000));
        let later = MachineSample {
            busy: m.busy + Duration::from_millis(1500),
            total: m.total + Duration::from_secs(2),
        };
        assert_eq!(later.busy_since(&m), Some(0.75));
        assert_eq!(parse_machine("cpu0 1 2 3\n"), None);
        assert_eq!(parse_machine("cpu  1 2 3\n"), None);
        assert!(MachineSample::now().is_some(), "linux /proc/stat");
    }

    #[test]
    fn own_process_is_readable() {
        let sample = Proc::Myself.sample().expect("linux /proc");
        assert!(sample.rss_bytes > 0);
        let later = ProcSample {
            cpu: sample.cpu + Duration::from_millis(500),
            ..sample
        };
        let pct = cpu_percent(&sample, &later, Duration::from_secs(1));
        assert!((pct - 50.0).abs() < 1e-9);
    }
}
