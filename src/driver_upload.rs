//! How a machine's driver files reach poolsleuth to be scanned, written out for every answer
//! that asks for them (an analysis whose top tag nobody knows, a search for an unknown tag):
//! the browser's Upload drivers page, `poolsleuth.exe scan` or a PowerShell loop run on the
//! Windows machine itself, and `poolsleuth scan` on the host poolsleuth runs on. Each command carries every argument it
//! needs; the only thing left to fill in is the admin token, which no answer may print.

use serde::Serialize;

/// Where the admin token goes in a printed command; the person running it puts the token the
/// server was started with in its place.
pub const TOKEN_PLACEHOLDER: &str = "YOUR-ADMIN-TOKEN";

/// Where Windows keeps its drivers.
pub const WINDOWS_DRIVERS: &str = r"C:\Windows\System32\drivers";

/// The base URL a client reaches this server at (`http://host:port`, `https://host`), built
/// by the HTTP layer from what it trusts; answers only print it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerUrl(String);

impl ServerUrl {
    /// `http://{authority}` when `authority` is a plain host (and port).
    pub fn from_authority(authority: &str) -> Option<Self> {
        Self::new(false, authority)
    }

    /// `http(s)://{authority}` when `authority` is a plain host (and port): letters, digits
    /// and `.-:[]` only, at most 255 bytes, so nothing a client sends can add a path, a
    /// query or a second command to a printed command line.
    pub fn new(https: bool, authority: &str) -> Option<Self> {
        let sane = !authority.is_empty()
            && authority.len() <= 255
            && authority
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
        let scheme = if https { "https" } else { "http" };
        sane.then(|| Self(format!("{scheme}://{authority}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where scanned drivers must go for the next analysis to see them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanTarget {
    /// The server that answered: its upload page and API.
    Server(ServerUrl),
    /// A server whose address the answer does not know (a request without a usable `Host`).
    UnknownServer,
    /// The local data directory a command-line analysis read (`None`: the default one).
    LocalDataDir(Option<String>),
}

/// Where a server's address is unknown, the printed commands name it so.
const PLACEHOLDER_SERVER: &str = "http://POOLSLEUTH-SERVER:8080";

impl ScanTarget {
    /// The server's URL for a printed `--server`, when the target is a server.
    pub fn server(&self) -> Option<&str> {
        match self {
            Self::Server(url) => Some(url.as_str()),
            Self::UnknownServer => Some(PLACEHOLDER_SERVER),
            Self::LocalDataDir(_) => None,
        }
    }
}

/// The ways to send the machine's drivers, each ready to run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct DriverUpload {
    /// The browser page that takes the files (`http://host:8080/upload`); absent when the
    /// analysis ran on the command line without a server.
    pub page: Option<String>,
    /// Run on the Windows machine, in PowerShell: sends each driver file with `curl.exe`
    /// (part of Windows 10 1803 and later). Absent without a server.
    pub powershell: Option<String>,
    /// Run on the Windows machine with `poolsleuth.exe` (the Windows build of poolsleuth):
    /// scans the drivers folder into the server. Absent without a server.
    pub poolsleuth_exe: Option<String>,
    /// Run on the host poolsleuth runs on, after copying the machine's drivers folder there
    /// as `drivers`.
    pub poolsleuth: String,
}

impl DriverUpload {
    pub fn new(target: &ScanTarget) -> Self {
        let Some(server) = target.server() else {
            let dir = match target {
                ScanTarget::LocalDataDir(Some(dir)) => format!(" --data-dir {}", quoted(dir)),
                _ => String::new(),
            };
            return Self {
                page: None,
                powershell: None,
                poolsleuth_exe: None,
                poolsleuth: format!("poolsleuth scan ./drivers{dir}"),
            };
        };
        Self {
            page: Some(format!("{server}/upload")),
            powershell: Some(format!(
                "Get-ChildItem {WINDOWS_DRIVERS}\\*.sys | ForEach-Object {{ curl.exe -sS -H \"Authorization: Bearer {TOKEN_PLACEHOLDER}\" -F \"files=@$($_.FullName)\" {server}/api/v1/drivers }}"
            )),
            poolsleuth_exe: Some(format!(
                "poolsleuth.exe scan {WINDOWS_DRIVERS} --server {server} --token {TOKEN_PLACEHOLDER}"
            )),
            poolsleuth: format!(
                "poolsleuth scan ./drivers --server {server} --token {TOKEN_PLACEHOLDER}"
            ),
        }
    }

    /// One sentence, commands in backticks, that names every way: what an answer's action or
    /// next step says.
    pub fn sentence(&self) -> String {
        let copy = format!(
            "copy {WINDOWS_DRIVERS} to the poolsleuth host as `drivers` and run `{}`",
            self.poolsleuth
        );
        match (&self.page, &self.powershell, &self.poolsleuth_exe) {
            (Some(page), Some(powershell), Some(exe)) => format!(
                "upload the machine's drivers ({WINDOWS_DRIVERS}\\*.sys) for scanning: in a browser on the Upload drivers page, {page}; or on the Windows machine with poolsleuth.exe: `{exe}`, or in PowerShell: `{powershell}`; or {copy} (put the server's admin token in place of {TOKEN_PLACEHOLDER})"
            ),
            _ => format!("scan the machine's drivers: {copy}, then analyze again"),
        }
    }
}

/// A path as one shell word: quoted when it holds anything but plain path characters.
fn quoted(path: &str) -> String {
    if !path.is_empty()
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+:\\".contains(&b))
    {
        path.to_owned()
    } else {
        format!("\"{}\"", path.replace('"', "\\\""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_plain_authority_makes_a_url() {
        assert_eq!(
            ServerUrl::new(true, "example.org:8443").unwrap().as_str(),
            "https://example.org:8443"
        );
        for bad in ["", "a b", "a/b", "x;rm -rf", "h\"", "a@b", &"a".repeat(256)] {
            assert!(ServerUrl::new(false, bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn every_command_names_the_server_and_the_token() {
        let url = ServerUrl::from_authority("10.0.0.5:8080").unwrap();
        let upload = DriverUpload::new(&ScanTarget::Server(url));
        assert_eq!(upload.page.as_deref(), Some("http://10.0.0.5:8080/upload"));
        assert_eq!(
            upload.poolsleuth_exe.as_deref(),
            Some(
                "poolsleuth.exe scan C:\\Windows\\System32\\drivers --server http://10.0.0.5:8080 --token YOUR-ADMIN-TOKEN"
            )
        );
        for command in [
            upload.powershell.as_deref().unwrap(),
            upload.poolsleuth_exe.as_deref().unwrap(),
            &upload.poolsleuth,
        ] {
            assert!(command.contains("http://10.0.0.5:8080"), "{command}");
            assert!(command.contains(TOKEN_PLACEHOLDER), "{command}");
        }
        let sentence = upload.sentence();
        assert!(
            sentence.contains(&format!("`{}`", upload.poolsleuth)),
            "{sentence}"
        );
        assert!(sentence.contains("Upload drivers page"), "{sentence}");
    }

    #[test]
    fn a_local_scan_goes_into_the_data_dir_the_analysis_read() {
        let upload = DriverUpload::new(&ScanTarget::LocalDataDir(Some("/srv/my data".into())));
        assert_eq!(
            upload.poolsleuth,
            "poolsleuth scan ./drivers --data-dir \"/srv/my data\""
        );
        assert!(
            upload.page.is_none() && upload.powershell.is_none() && upload.poolsleuth_exe.is_none()
        );
        assert_eq!(
            DriverUpload::new(&ScanTarget::LocalDataDir(None)).poolsleuth,
            "poolsleuth scan ./drivers"
        );
    }
}
