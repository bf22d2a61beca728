//! The loaded-driver list: `driverquery /v /fo csv` (15 columns), `driverquery /fo csv`
//! (4 columns), with or without `/nh`, with English headers or (by position) localized ones;
//! a JSON array (our own form or `Get-CimInstance Win32_SystemDriver | ConvertTo-Json`); and
//! the PowerShell lists that carry each driver's file version ([`POWERSHELL_DRIVER_LIST`] as
//! CSV or JSON, and `Get-ChildItem ...\drivers\*.sys | ForEach-Object VersionInfo` as its
//! table or list view). driverquery has no file version, so the PowerShell list is the one
//! to recommend.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::text::{Input, parse_count};
use super::{LineWarning, SnapshotError, SnapshotErrorKind};
use crate::version::Version;

/// The driver-list forms [`parse_driver_list`] takes, as listed in its errors.
pub const DRIVER_LIST_FORMATS: &[&str] = &[
    "driverquery /v /fo csv",
    "driverquery /fo csv",
    "json (array of driver objects)",
    "PowerShell driver list with file versions (CSV or JSON)",
    "Get-ChildItem *.sys | ForEach-Object VersionInfo (table or list)",
];

/// The recommended driver list: every running kernel driver with its image path and file
/// version, as CSV (`Win32_SystemDriver` has no version; the image's `VersionInfo` does).
pub const POWERSHELL_DRIVER_LIST: &str = r#"Get-CimInstance Win32_SystemDriver | Where-Object State -eq 'Running' | ForEach-Object { $p = $_.PathName -replace '^\\\?\?\\','' -replace '^\\SystemRoot', $env:SystemRoot; [pscustomobject]@{ Name = $_.Name; DisplayName = $_.DisplayName; State = $_.State; PathName = $p; FileVersion = (Get-Item -LiteralPath $p -ErrorAction SilentlyContinue).VersionInfo.FileVersion } } | ConvertTo-Csv -NoTypeInformation | Out-File -Encoding utf8 drivers.csv"#;

/// One loaded (or installed) kernel driver.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadedDriver {
    /// driverquery's "Module Name" (which is the service key name, e.g. `1394ohci`).
    pub module_name: String,
    pub display_name: Option<String>,
    pub description: Option<String>,
    /// The kernel service name (KMDF's default pool tag comes from it).
    pub service_name: Option<String>,
    /// Full image path as given (`C:\Windows\system32\drivers\ntfs.sys`).
    pub path: Option<String>,
    /// The image file name (`ntfs.sys`), from the path.
    pub file_name: Option<String>,
    /// The file version as the list shows it (`10.0.19041.1 (WinBuild…)` reads as
    /// `10.0.19041.1`).
    pub version: Option<Version>,
    /// `Kernel`, `File System`...
    pub driver_type: Option<String>,
    pub start_mode: Option<String>,
    pub state: Option<String>,
    pub status: Option<String>,
    pub link_date: Option<String>,
    pub paged_pool_bytes: Option<u64>,
    pub code_bytes: Option<u64>,
    pub bss_bytes: Option<u64>,
    pub init_bytes: Option<u64>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Field {
    Module,
    Display,
    Description,
    Service,
    Path,
    Version,
    /// `ProductVersion`: the version when no file version is given.
    ProductVersion,
    Type,
    Start,
    State,
    Status,
    LinkDate,
    Paged,
    Code,
    Bss,
    Init,
    Ignore,
}

fn field_of(header: &str) -> Field {
    let k: String = header
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect();
    match k.as_str() {
        "modulename" | "module" | "name" | "drivername" => Field::Module,
        "displayname" | "caption" => Field::Display,
        "description" => Field::Description,
        "servicename" | "service" => Field::Service,
        "path" | "pathname" | "imagepath" | "filepath" | "image" | "binarypath" | "filename"
        | "fullname" => Field::Path,
        "version" | "fileversion" | "driverversion" | "fileversionraw" => Field::Version,
        "productversion" | "productversionraw" => Field::ProductVersion,
        "drivertype" | "servicetype" | "type" => Field::Type,
        "startmode" | "start" | "starttype" => Field::Start,
        "state" => Field::State,
        "status" => Field::Status,
        "linkdate" | "timestamp" => Field::LinkDate,
        "pagedpoolbytes" | "pagedpool" => Field::Paged,
        "codebytes" | "code" => Field::Code,
        "bssbytes" | "bss" => Field::Bss,
        "initbytes" | "init" => Field::Init,
        _ => Field::Ignore,
    }
}

const VERBOSE_ORDER: [Field; 15] = [
    Field::Module,
    Field::Display,
    Field::Description,
    Field::Type,
    Field::Start,
    Field::State,
    Field::Status,
    Field::Ignore,
    Field::Ignore,
    Field::Paged,
    Field::Code,
    Field::Bss,
    Field::LinkDate,
    Field::Path,
    Field::Init,
];
const SHORT_ORDER: [Field; 4] = [Field::Module, Field::Display, Field::Type, Field::LinkDate];

fn build(fields: &[Field], cells: &[String]) -> Option<LoadedDriver> {
    let mut d = LoadedDriver::default();
    let opt = |s: &str| {
        let s = s.trim();
        (!s.is_empty()).then(|| s.to_owned())
    };
    let num = |s: &str| parse_count(s.trim());
    for (f, c) in fields.iter().zip(cells) {
        match f {
            Field::Module => d.module_name = c.trim().to_owned(),
            Field::Display => d.display_name = opt(c),
            Field::Description => d.description = opt(c),
            Field::Service => d.service_name = opt(c),
            Field::Path => d.path = opt(c),
            Field::Version => d.version = version_of(c),
            Field::ProductVersion => {
                if d.version.is_none() {
                    d.version = version_of(c);
                }
            }
            Field::Type => d.driver_type = opt(c),
            Field::Start => d.start_mode = opt(c),
            Field::State => d.state = opt(c),
            Field::Status => d.status = opt(c),
            Field::LinkDate => d.link_date = opt(c),
            Field::Paged => d.paged_pool_bytes = num(c),
            Field::Code => d.code_bytes = num(c),
            Field::Bss => d.bss_bytes = num(c),
            Field::Init => d.init_bytes = num(c),
            Field::Ignore => {}
        }
    }
    if d.module_name.is_empty() {
        d.module_name = d.service_name.clone().unwrap_or_default();
    }
    if d.module_name.is_empty() {
        // A file list (`VersionInfo`) names no service: the image's stem stands for it.
        let stem = d
            .path
            .as_deref()
            .and_then(|p| p.rsplit(['\\', '/']).next())
            .map(|f| f.trim().rsplit_once('.').map_or(f.trim(), |(stem, _)| stem));
        d.module_name = stem.unwrap_or_default().to_owned();
    }
    if d.module_name.is_empty() {
        return None;
    }
    if d.service_name.is_none()
        && fields.contains(&Field::Module)
        && !fields.contains(&Field::Service)
    {
        // driverquery's "Module Name" is the service key name.
        d.service_name = Some(d.module_name.clone());
    }
    d.file_name = d.path.as_deref().and_then(|p| {
        let name = p.rsplit(['\\', '/']).next()?.trim();
        (!name.is_empty()).then(|| name.to_owned())
    });
    Some(d)
}

/// A version cell: `10.0.19041.1 (WinBuild.160101.0800)` is `10.0.19041.1`, `4, 25, 0, 9658`
/// stays as written; text that starts with no number is kept as written.
fn version_of(cell: &str) -> Option<Version> {
    Version::parse(cell)
}

fn err(line: Option<usize>, msg: impl Into<String>) -> SnapshotError {
    SnapshotError {
        line,
        message: msg.into(),
        formats_understood: DRIVER_LIST_FORMATS,
        kind: SnapshotErrorKind::Unreadable,
    }
}

/// Reads a loaded-driver list; rows without a module name are skipped.
pub fn parse_driver_list(input: &[u8]) -> Result<Vec<LoadedDriver>, SnapshotError> {
    parse_driver_list_with_warnings(input).map(|(d, _)| d)
}

/// [`parse_driver_list`] with a warning per skipped row.
pub fn parse_driver_list_with_warnings(
    input: &[u8],
) -> Result<(Vec<LoadedDriver>, Vec<LineWarning>), SnapshotError> {
    let input = Input::decode(input);
    let Some(first) = input.first_nonblank() else {
        return Err(err(None, "the driver list is empty"));
    };
    let trimmed = input.text().trim_start();
    let mut warnings = Vec::new();
    let drivers = if trimmed.starts_with('[') || trimmed.starts_with('{') {
        parse_json(input.text(), &mut warnings)?
    } else if let Some(drivers) = parse_powershell_view(&input) {
        drivers
    } else {
        parse_csv(&input, first, &mut warnings)?
    };
    if drivers.is_empty() {
        return Err(err(Some(first), "no drivers found in the list"));
    }
    Ok((drivers, warnings))
}

fn parse_json(
    text: &str,
    warnings: &mut Vec<LineWarning>,
) -> Result<Vec<LoadedDriver>, SnapshotError> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| err(Some(e.line().max(1)), format!("not valid JSON: {e}")))?;
    let items = match &value {
        Value::Array(a) => a.as_slice(),
        Value::Object(o) => match o.get("drivers") {
            Some(Value::Array(a)) => a.as_slice(),
            _ => std::slice::from_ref(&value),
        },
        _ => return Err(err(Some(1), "expected an array of driver objects")),
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Value::Object(o) = item else {
            warnings.push(LineWarning {
                line: 0,
                message: format!("[{i}]: not an object; skipped"),
            });
            continue;
        };
        let fields: Vec<Field> = o.keys().map(|k| field_of(k)).collect();
        let cells: Vec<String> = o
            .values()
            .map(|v| match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => String::new(),
            })
            .collect();
        match build(&fields, &cells) {
            Some(d) => out.push(d),
            None => warnings.push(LineWarning {
                line: 0,
                message: format!("[{i}]: no module or service name; skipped"),
            }),
        }
    }
    Ok(out)
}

/// PowerShell's own views of driver files: the table (`ProductVersion  FileVersion
/// FileName` over a row of dashes) or the list (`FileVersion : 1.2.3` blocks). `None` when
/// the text is neither.
fn parse_powershell_view(input: &Input<'_>) -> Option<Vec<LoadedDriver>> {
    let lines: Vec<&str> = input.lines().map(|(_, l)| l).collect();
    if let Some(i) = (1..lines.len()).find(|&i| {
        super::powershell::is_dashes(lines[i])
            && super::powershell::cut(lines[i - 1], &super::powershell::spans(lines[i]))
                .iter()
                .any(|h| field_of(h) == Field::Path)
    }) {
        let spans = super::powershell::spans(lines[i]);
        let fields: Vec<Field> = super::powershell::cut(lines[i - 1], &spans)
            .iter()
            .map(|h| field_of(h))
            .collect();
        let drivers = lines[i + 1..]
            .iter()
            .filter(|l| !l.trim().is_empty())
            .filter_map(|l| build(&fields, &super::powershell::row_cells(l, &spans)))
            .collect();
        return Some(drivers);
    }
    // The list view: `Name : value` lines, a blank line between files.
    fn pair(l: &str) -> Option<(&str, &str)> {
        let (k, v) = l
            .split_once(" : ")
            .or_else(|| l.trim_end().strip_suffix(" :").map(|k| (k, "")))?;
        let k = k.trim();
        (!k.is_empty() && !k.contains(' ')).then_some((k, v.trim()))
    }
    if !lines
        .iter()
        .any(|l| pair(l).is_some_and(|(k, _)| field_of(k) == Field::Path))
    {
        return None;
    }
    let mut drivers = Vec::new();
    for block in input.text().split("\n\n").flat_map(|b| b.split("\r\n\r\n")) {
        let (fields, cells): (Vec<Field>, Vec<String>) = block
            .lines()
            .filter_map(pair)
            .map(|(k, v)| (field_of(k), v.to_owned()))
            .unzip();
        if fields.contains(&Field::Path)
            && let Some(d) = build(&fields, &cells)
        {
            drivers.push(d);
        }
    }
    Some(drivers)
}

fn parse_csv(
    input: &Input<'_>,
    first: usize,
    warnings: &mut Vec<LineWarning>,
) -> Result<Vec<LoadedDriver>, SnapshotError> {
    let text = input.text();
    let header_line = text
        .lines()
        .find(|l| !l.trim().is_empty() && !l.starts_with("#TYPE"))
        .unwrap_or("");
    let delim = [b',', b'\t', b';']
        .into_iter()
        .max_by_key(|&d| header_line.bytes().filter(|&b| b == d).count())
        .unwrap_or(b',');
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delim)
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut fields: Option<Vec<Field>> = None;
    let mut out = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        let line = reader.position().line() as usize;
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                warnings.push(LineWarning {
                    line,
                    message: format!("unreadable CSV record: {e}"),
                });
                continue;
            }
        }
        let cells: Vec<String> = record.iter().map(str::to_owned).collect();
        // PowerShell 5's `ConvertTo-Csv` starts with `#TYPE System.Management...`.
        if cells.iter().all(|c| c.trim().is_empty())
            || (fields.is_none() && cells[0].starts_with("#TYPE"))
        {
            continue;
        }
        let Some(f) = &fields else {
            let named: Vec<Field> = cells.iter().map(|c| field_of(c)).collect();
            if named.contains(&Field::Module) {
                fields = Some(named);
                continue;
            }
            // Localized headers or `/nh`: go by position.
            let positional: Option<Vec<Field>> = match cells.len() {
                15 => Some(VERBOSE_ORDER.to_vec()),
                4 => Some(SHORT_ORDER.to_vec()),
                _ => None,
            };
            let Some(p) = positional else {
                return Err(err(
                    Some(line.max(first)),
                    "no \"Module Name\" column: expected `driverquery /v /fo csv` or `driverquery /fo csv` output",
                ));
            };
            let data_row = if cells.len() == 15 {
                parse_count(&cells[9]).is_some()
            } else {
                cells[3].chars().any(|c| c.is_ascii_digit())
            };
            fields = Some(p);
            if data_row
                && let Some(f) = &fields
                && let Some(d) = build(f, &cells)
            {
                out.push(d);
            }
            continue;
        };
        // driverquery repeats its header between sections on some systems.
        if cells.first().is_some_and(|c| field_of(c) == Field::Module) {
            continue;
        }
        match build(f, &cells) {
            Some(d) => out.push(d),
            None => warnings.push(LineWarning {
                line,
                message: "row without a module name skipped".into(),
            }),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn powershell_lists_carry_the_file_version() {
        let csv = "#TYPE System.Management.Automation.PSCustomObject\r\n\
            \"Name\",\"DisplayName\",\"State\",\"PathName\",\"FileVersion\"\r\n\
            \"lkalflt\",\"Lka Filter\",\"Running\",\"C:\\Windows\\system32\\drivers\\lkalflt.sys\",\"4.0.1.2 (built by: WinDDK)\"\r\n";
        let d = parse_driver_list(csv.as_bytes()).unwrap();
        assert_eq!(d[0].module_name, "lkalflt");
        assert_eq!(d[0].file_name.as_deref(), Some("lkalflt.sys"));
        assert_eq!(d[0].version.as_ref().map(Version::as_str), Some("4.0.1.2"));

        let table = "\r\nProductVersion   FileVersion      FileName\r\n\
            --------------   -----------      --------\r\n\
            4.0.1.2          4.0.1.2          C:\\Windows\\System32\\drivers\\lkalflt.sys\r\n\
            10.0.19041.1     10.0.19041.1 ... C:\\Windows\\System32\\drivers\\ntfs.sys\r\n";
        let d = parse_driver_list(table.as_bytes()).unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].module_name, "lkalflt");
        assert_eq!(d[0].service_name, None);
        assert_eq!(d[1].file_name.as_deref(), Some("ntfs.sys"));
        assert_eq!(
            d[1].version.as_ref().map(Version::as_str),
            Some("10.0.19041.1")
        );

        let list = "OriginalFilename : lkalflt.sys\nFileDescription  : Lka Filter\nProductVersion   : 4.0\n\
            FileVersion      : 4.0.1.2\nFileName         : C:\\Windows\\System32\\drivers\\lkalflt.sys\n\n\
            FileVersion      : 10.0.19041.1 (WinBuild.160101.0800)\nFileName         : C:\\Windows\\System32\\drivers\\ntfs.sys\n";
        let d = parse_driver_list(list.as_bytes()).unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].version.as_ref().map(Version::as_str), Some("4.0.1.2"));
        assert_eq!(
            d[1].version.as_ref().map(Version::as_str),
            Some("10.0.19041.1")
        );
    }

    #[test]
    fn verbose_csv() {
        let text = "\"Module Name\",\"Display Name\",\"Description\",\"Driver Type\",\"Start Mode\",\"State\",\"Status\",\"Accept Stop\",\"Accept Pause\",\"Paged Pool(bytes)\",\"Code(bytes)\",\"BSS(bytes)\",\"Link Date\",\"Path\",\"Init(bytes)\"\r\n\
\"Ntfs\",\"Ntfs\",\"Ntfs\",\"File System \",\"Boot\",\"Running\",\"OK\",\"TRUE\",\"FALSE\",\"0\",\"1,234,944\",\"0\",\"\",\"C:\\Windows\\system32\\drivers\\Ntfs.sys\",\"4,096\"\r\n";
        let d = parse_driver_list(text.as_bytes()).unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].module_name, "Ntfs");
        assert_eq!(d[0].service_name.as_deref(), Some("Ntfs"));
        assert_eq!(d[0].file_name.as_deref(), Some("Ntfs.sys"));
        assert_eq!(d[0].code_bytes, Some(1_234_944));
        assert_eq!(d[0].driver_type.as_deref(), Some("File System"));
    }
}
