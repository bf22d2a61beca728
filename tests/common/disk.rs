//! A small disk to fill: what the full-disk tests write to.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A tmpfs of `bytes` mounted at `dir`, unmounted on drop; `None` (said on stderr) where this
/// process may not mount (not root, or no mount namespace for it).
pub struct SmallDisk {
    pub dir: PathBuf,
}

impl SmallDisk {
    pub fn mount(dir: &Path, bytes: u64) -> Option<Self> {
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(dir)
            .output();
        // CI runs as root on a machine that may mount: there the full-disk tests must run.
        let ok = matches!(&mounted, Ok(out) if out.status.success());
        assert!(
            ok || !super::corpus::in_ci(),
            "CI must run the full-disk tests, but a small tmpfs could not be mounted: {mounted:?}"
        );
        match mounted {
            Ok(out) if out.status.success() => Some(Self {
                dir: dir.to_owned(),
            }),
            Ok(out) => {
                eprintln!(
                    "skipped: cannot mount a small tmpfs to fill ({}); the full-disk test needs root",
                    String::from_utf8_lossy(&out.stderr).trim()
                );
                None
            }
            Err(error) => {
                eprintln!("skipped: no mount command ({error}); the full-disk test needs it");
                None
            }
        }
    }

    pub fn resize(&self, bytes: u64) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,size={bytes}")])
            .arg(&self.dir)
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Fills the disk but for `headroom` bytes, with a file `fill`.
    pub fn fill_leaving(&self, headroom: u64) -> PathBuf {
        let path = self.fill();
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        let len = file.metadata().unwrap().len();
        file.set_len(len.saturating_sub(headroom)).unwrap();
        path
    }

    /// Fills the disk to the last byte with a file `fill`.
    pub fn fill(&self) -> PathBuf {
        let path = self.dir.join("fill");
        let mut file = std::fs::File::create(&path).unwrap();
        for chunk in [1 << 20, 4096, 1] {
            let block = vec![0u8; chunk];
            while file.write_all(&block).is_ok() {}
        }
        let _ = file.sync_all();
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}
