//! The service's peak resident memory, from Linux's /proc.

/// Resets the process's peak RSS (VmHWM) so the next reading covers one scenario.
pub fn reset_peak(pid: u32) {
    // "5" resets the high-water mark (Linux 4.0+); elsewhere the peak spans the whole run.
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
}

/// Peak RSS in KiB, if the system reports it.
pub fn peak(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?;
    line.trim().trim_end_matches("kB").trim().parse().ok()
}
