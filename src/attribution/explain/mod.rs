//! Explanation: the only stage that writes words and command lines. From the ranked tags and
//! drivers it builds the suspects with their guidance and vendor reports, the unknown tags'
//! next steps, the verdict, the answer and the findings shown.

use std::fmt::Write as _;

pub(super) mod answer;
mod causes;
mod guidance;
mod report;
mod text;

pub use guidance::pool_traces;
pub use text::render_text;

use super::Analyzer;
use super::candidates::{Cand, Detail, owner_of};
use super::kb::DriverFacts;
use super::model::{
    Analysis, Answer, AnswerKind, Candidate, CounterCheck, DriverUpload, Evidence, Finding,
    InputInfo, MachineTotals, NormalSource, OrderBasis, OsTagAdvice, OwnerKind, SeriesOrder,
    SeriesPoint, Suspect, TagGroup, UnknownTag, VerdictStrength, VersionSource,
};
use super::rank::{DriverRanking, Work, normal_bytes};
use super::series::{GrowingTogether, Lockstep, SeriesTable, pool_total, round};
use crate::collect::{collect_files_command, fleet_watch_command};
use crate::format::human_bytes;
use crate::ingest_client::INGEST_TOKEN_PLACEHOLDER;
use crate::snapshot::{POWERSHELL_DRIVER_LIST, SnapshotFormat};
use crate::tag::PoolTag;
use crate::version::Version;
use causes::CauseTakeover;

/// The tags of a suspect's evidence shown, largest share first.
pub(super) const EVIDENCE_SHOWN: usize = 10;

impl<'a> Analyzer<'a> {
    /// The groups of tags growing together, in words.
    pub(super) fn tag_groups(
        &self,
        work: &[&mut Work<'a>],
        groups: &[GrowingTogether],
        drivers: Vec<Vec<String>>,
    ) -> Vec<TagGroup> {
        groups
            .iter()
            .zip(drivers)
            .enumerate()
            .map(|(id, (g, drivers))| TagGroup {
                id,
                tags: g.members.iter().map(|&i| work[i].tag).collect(),
                pools: g.members.iter().map(|&i| work[i].pool).collect(),
                reason: match g.lockstep {
                    Some(lockstep) => lockstep_reason(lockstep),
                    None => "outstanding allocations grew together".into(),
                },
                total_bytes: g
                    .members
                    .iter()
                    .fold(0u64, |t, &i| t.saturating_add(work[i].bytes)),
                drivers,
            })
            .collect()
    }

    /// The advice for OS-owned top tags: the tags, the filter drivers named, the pool trace.
    pub(super) fn os_tag_advice(
        &self,
        work: &[&mut Work<'a>],
        os_tags: Option<(Vec<usize>, Vec<String>)>,
    ) -> Option<OsTagAdvice> {
        let (positions, filter_names) = os_tags?;
        let tags: Vec<PoolTag> = positions.iter().map(|&i| work[i].tag).collect();
        let shown: Vec<String> = tags.iter().map(|t| format!("`{}`", t.trimmed())).collect();
        let mut message = format!(
            "The top tags ({}) belong to Windows itself. Kernel leaks in the OS are rare: the memory is usually held by a third-party driver (a filter driver keeping references or contexts). ",
            shown.join(", ")
        );
        if self.input.drivers.is_none() {
            message.push_str("Send the loaded-driver list (the PowerShell list with file versions, or `driverquery /v /fo csv`) to have third-party filter drivers named. ");
        } else if filter_names.is_empty() {
            message.push_str("The driver list shows no third-party filter driver. ");
        } else {
            message.push_str(&format!(
                "Loaded third-party filter drivers, listed as lower-confidence suspects: {}. ",
                filter_names.join(", ")
            ));
        }
        message.push_str(
            "A pool trace narrowed to these tags records the allocating call stacks and names the driver for certain.",
        );
        Some(OsTagAdvice {
            traces: pool_traces(&tags),
            tags,
            message,
            filter_drivers: filter_names,
        })
    }

    /// The drivers shown, with what is known of them, their guidance and vendor reports.
    pub(super) fn suspects(
        &self,
        work: &[&mut Work<'a>],
        ranking: DriverRanking<'_, 'a>,
        machine: &MachineTotals,
        groups: &[TagGroup],
        info: &InputInfo,
    ) -> Vec<Suspect> {
        let total = ranking.total;
        let mut suspects = Vec::with_capacity(ranking.drivers.len());
        for (rank, ranked) in ranking.drivers.into_iter().enumerate() {
            let (driver, score, items) = (ranked.name, ranked.score, ranked.shares);
            let best = items[0].1;
            let os = items.iter().all(|(_, c, _)| c.os);
            let facts = self.kb.driver(driver);
            let loaded_driver = self.loaded_driver(driver, facts);
            let vendor_raw = items
                .iter()
                .find_map(|(_, c, _)| c.entry.and_then(|e| e.vendor.as_deref()))
                .map(str::to_owned)
                .or_else(|| facts.and_then(|f| f.vendors.first().cloned()))
                .or_else(|| os.then(|| "Microsoft".to_owned()));
            let vendor = vendor_raw.map(|v| self.vendors.canonical_name(&v));
            let support_url = vendor
                .as_deref()
                .and_then(|v| self.vendors.lookup(v))
                .and_then(|v| v.support_url.clone());
            // Only the machine's own driver list says which version runs there.
            let on_machine = loaded_driver.and_then(|d| d.version.clone());
            let known: &[Version] = facts.map_or(&[], |f| f.versions.as_slice());
            // The file the machine runs, when it was scanned; else the file the evidence is from.
            let sha256 = facts
                .and_then(|f| {
                    f.hashes
                        .iter()
                        .find(|(v, _)| {
                            v.as_ref()
                                .zip(on_machine.as_ref())
                                .is_some_and(|(v, m)| v.same_version(m))
                        })
                        .map(|(_, s)| s.clone())
                })
                .or_else(|| {
                    items
                        .iter()
                        .find_map(|(_, c, _)| c.entry.and_then(|e| e.sha256.clone()))
                })
                .or_else(|| facts.and_then(|f| f.hashes.first().map(|(_, s)| s.clone())));
            let product = items
                .iter()
                .find_map(|(_, c, _)| c.entry.and_then(|e| e.product.clone()))
                .or_else(|| facts.and_then(|f| f.products.first().cloned()));
            let mut guidance = guidance::guidance(
                driver,
                os,
                best.kind,
                on_machine.as_ref(),
                known,
                vendor.as_deref(),
                support_url.as_deref(),
            );
            let leaking = work[items[0].0].tag;
            if !os
                && let Some(fix) = self.fixed_in(driver, leaking, facts)
                && let Some(g) = guidance::fixed_version_guidance(
                    leaking,
                    &fix,
                    on_machine.as_ref(),
                    vendor.as_deref(),
                    support_url.as_deref(),
                )
            {
                guidance = g;
            }
            let evidence_total = items.len();
            let evidence: Vec<Evidence> = items
                .iter()
                .take(EVIDENCE_SHOWN)
                .map(|&(wi, c, contribution)| {
                    let f = &work[wi];
                    Evidence {
                        tag: f.tag,
                        pool: f.pool,
                        bytes: f.bytes,
                        growth_bytes_per_hour: f.growth.as_ref().and_then(|g| g.bytes_per_hour),
                        growth_bytes_per_sample: f.growth.as_ref().map(|g| g.bytes_per_sample),
                        tag_score: round(f.score, 4),
                        evidence: c.kind,
                        confidence: c.entry.map(|e| e.confidence),
                        source: c.source().to_owned(),
                        line: c.entry.and_then(|e| e.line),
                        source_url: c.source_url(),
                        detail: self.detail(c),
                        weight: round(c.weight, 4),
                        claimants: work[wi].cands.len(),
                        contribution: round(contribution, 4),
                    }
                })
                .collect();
            let mut suspect = Suspect {
                rank: rank + 1,
                driver: driver.to_owned(),
                score: round(score, 4),
                share: if total > 0.0 {
                    round(score / total, 4)
                } else {
                    0.0
                },
                vendor,
                support_url,
                product,
                os_component: os,
                loaded: best.loaded,
                service_name: loaded_driver.and_then(|d| d.service_name.clone()),
                path: loaded_driver.and_then(|d| d.path.clone()),
                version_source: on_machine.as_ref().map(|_| VersionSource::DriverList),
                version_seen: on_machine.map(|v| v.to_string()),
                newest_known_version: known.last().map(Version::to_string),
                known_versions: known.iter().map(Version::to_string).collect(),
                uploaded_as: facts.map_or_else(Vec::new, |f| f.uploaded_as.clone()),
                signature: sha256
                    .as_deref()
                    .and_then(|s| facts.and_then(|f| f.signature_of(s)))
                    .cloned(),
                sha256,
                best_evidence: best.kind,
                guidance,
                evidence,
                evidence_total,
                vendor_report: None,
            };
            if rank < self.options.max_reports && !os {
                let group_tags: Vec<&TagGroup> = groups
                    .iter()
                    .filter(|g| g.drivers.iter().any(|d| d == driver))
                    .collect();
                suspect.vendor_report = Some(report::vendor_report(
                    &suspect,
                    self.input,
                    info,
                    machine,
                    &group_tags,
                ));
            }
            suspects.push(suspect);
        }
        suspects
    }

    /// The newest scanned version of `driver` that no longer allocates `tag`, when older
    /// scanned versions do: the version that fixes the leak, as far as the code shows. Only
    /// scanned binaries count, as a list's silence about a tag proves nothing.
    fn fixed_in(
        &self,
        driver: &str,
        tag: PoolTag,
        facts: Option<&DriverFacts>,
    ) -> Option<guidance::FixedVersion> {
        let allocating = self.allocating_versions(driver, tag);
        let last_allocating = allocating.last()?;
        let fixed = facts?
            .hashes
            .iter()
            .filter_map(|(v, _)| v.as_ref())
            .filter(|v| v.newer_than(last_allocating))
            .max()?;
        Some(guidance::FixedVersion {
            version: fixed.clone(),
            allocating,
        })
    }

    /// The scanned versions of `driver` whose code allocates `tag`, oldest first, each once.
    pub(super) fn allocating_versions(&self, driver: &str, tag: PoolTag) -> Vec<Version> {
        Version::sorted_distinct(
            self.kb
                .attributions(tag)
                .iter()
                .filter(|e| e.sha256.is_some() && e.owner.driver.as_deref() == Some(driver))
                .filter_map(|e| e.version.as_deref().and_then(Version::parse))
                .collect(),
        )
    }

    /// The ways to send the machine's drivers to where the next analysis reads them.
    pub(super) fn driver_upload(&self) -> DriverUpload {
        DriverUpload::new(&self.options.scan_target)
    }

    /// The scan of the machine's drivers, as one step: every way, every argument.
    pub(super) fn scan_step(&self) -> String {
        self.driver_upload().sentence()
    }

    /// The driver a Windows-owned tag belongs to (`Windows` when no OS candidate names one).
    pub(super) fn os_owner(&self, w: &Work<'a>) -> String {
        w.cands
            .iter()
            .find(|c| c.os)
            .map_or("Windows".to_owned(), |c| self.name(c).to_owned())
    }

    /// The unknown tags among the top, with what to do about each. A tag the knowledge base
    /// describes is known, even without a driver file.
    pub(super) fn unknown_tags(&self, work: &[&mut Work<'a>]) -> Vec<UnknownTag> {
        // The same for every tag: written once.
        let scan_step = self.scan_step();
        work.iter()
            .filter(|w| w.cands.is_empty() && w.bytes > 0 && !w.is_described())
            .take(20)
            .map(|w| {
                let tag = w.tag.trimmed();
                let mut steps: Vec<String> = self.reversed_hint(w.tag).into_iter().collect();
                steps.push(scan_step.clone());
                if w.tag.is_printable() && !tag.contains(['"', ' ', '`']) {
                    steps.push(format!(
                        "search the drivers' files for the tag on the machine (this misses tags not stored as text): `findstr /m /l /c:\"{tag}\" C:\\Windows\\System32\\drivers\\*.sys`"
                    ));
                }
                if self.input.drivers.is_none() {
                    steps.push("send the loaded-driver list (the PowerShell command under next steps, or `driverquery /v /fo csv`) to match KMDF default tags (the first four letters of a service name)".into());
                }
                UnknownTag {
                    tag: w.tag,
                    pool: w.pool,
                    bytes: w.bytes,
                    score: round(w.score, 4),
                    growth_bytes_per_hour: w.growth.as_ref().and_then(|g| g.bytes_per_hour),
                    next_steps: steps,
                }
            })
            .collect()
    }

    /// For a tag the knowledge base does not know: whether it knows the tag's reverse, the
    /// form a tag takes when it is copied from a C character constant in source code.
    fn reversed_hint(&self, tag: PoolTag) -> Option<String> {
        let reversed = tag.reversed();
        let known = self.kb.attributions(reversed);
        if reversed == tag || known.is_empty() || !self.kb.attributions(tag).is_empty() {
            return None;
        }
        let owners: Vec<String> =
            known
                .iter()
                .filter_map(|e| e.owner.driver.clone())
                .fold(Vec::new(), |mut names, d| {
                    if !names.contains(&d) {
                        names.push(d);
                    }
                    names
                });
        let who = match owners.as_slice() {
            [] => format!("described as \"{}\"", known[0].description),
            names => format!("attributed to {}", names.join(", ")),
        };
        Some(format!(
            "not in the knowledge base, but its reverse `{}` is {who}; source code writes the \
             tag `{}` as the character constant '{}', so a list or a person copying from source \
             may have it reversed",
            reversed.trimmed(),
            tag.trimmed(),
            reversed
        ))
    }

    /// What tied a candidate to its tag, in words.
    fn detail(&self, c: &Cand<'a>) -> Option<String> {
        let extra = c.extra.as_ref()?;
        Some(match &extra.detail {
            Detail::VerifierCaller(caller) => format!("!verifier caller {caller}"),
            Detail::VerifierModule(module) => format!("!verifier module {module}"),
            Detail::WildcardRow => format!(
                "wildcard row {}",
                c.entry.map_or_else(String::new, |e| e.tag.trimmed())
            ),
            Detail::DriverColumn(text) => format!("driver column: {}", text.trim()),
            Detail::KmdfService(service) => format!(
                "KMDF default tag of the service name {service:?} (first four characters{})",
                if service.len() >= 3 && service[..3].eq_ignore_ascii_case("wdf") {
                    " after WDF"
                } else {
                    ""
                }
            ),
            Detail::SameGrowth { tag } => {
                format!("grows together with {tag}, attributed to {}", extra.driver)
            }
            Detail::FilterDriver => {
                "loaded third-party filter driver: may hold this OS-owned memory".into()
            }
        })
    }

    /// The verdict in one paragraph: the top tag, how it grows, who owns it, how firm.
    pub(super) fn verdict(
        &self,
        table: &SeriesTable<'a>,
        work: &[&mut Work<'a>],
        suspects: &[Suspect],
        strength: VerdictStrength,
        diagnosis: AnswerKind,
        cause: Option<&CauseTakeover>,
    ) -> String {
        let mut verdict =
            self.verdict_sentence(table.n, work, suspects, strength, diagnosis, cause);
        if self
            .input
            .files
            .iter()
            .any(|f| f.format == SnapshotFormat::Prose)
        {
            verdict.push_str(
                " These numbers were read from prose (sentences, not a table): check them \
                 against the tool's output.",
            );
        }
        verdict
    }

    fn verdict_sentence(
        &self,
        n: usize,
        work: &[&mut Work<'a>],
        suspects: &[Suspect],
        strength: VerdictStrength,
        diagnosis: AnswerKind,
        cause: Option<&CauseTakeover>,
    ) -> String {
        let Some(top) = work.first() else {
            return "The snapshot holds no pool usage to rank.".into();
        };
        let tag = top.tag.trimmed();
        if diagnosis == AnswerKind::NothingAbnormal {
            return format!(
                "Nothing abnormal: no tag is above what is normal for it and nothing grows \
                 steadily (largest: `{tag}` ({}) {}, {:.1}× what is normal for it).",
                top.pool,
                human_bytes(top.bytes),
                top.size_ratio
            );
        }
        let how = match &top.growth {
            // Counts but no sizes: said in allocations, as the answer says it.
            _ if top.facts.bytes_unknown() => self.how(top),
            Some(g) if g.delta_bytes > 0 => match g.bytes_per_hour {
                Some(h) => format!(
                    "grows {}/hour (steadiness {:.2})",
                    human_bytes(h.max(0.0) as u64),
                    g.steadiness
                ),
                None => format!(
                    "grew by {} over {n} snapshots",
                    human_bytes(g.delta_bytes as u64),
                ),
            },
            Some(_) => format!(
                "does not grow; it holds {} ({:.1}× its normal size)",
                human_bytes(top.bytes),
                top.size_ratio
            ),
            None => format!(
                "holds {} ({:.1}× what is normal for it)",
                human_bytes(top.bytes),
                top.size_ratio
            ),
        };
        // The vendor named with the warning when the file may not be the vendor's.
        let suspect_name = |s: &Suspect| {
            let vendor = s.vendor.as_deref().map(|v| {
                match s.signature.as_ref().and_then(|n| n.warning.as_deref()) {
                    Some(warning) => format!(" ({v}; warning: {warning})"),
                    None => format!(" ({v})"),
                }
            });
            format!("{}{}", s.driver, vendor.unwrap_or_default())
        };
        let claims_top = |s: &&Suspect| top.cands.iter().any(|c| self.name(c) == s.driver);
        // A public case whose driver this machine runs is the answer, and the verdict says so.
        let known = cause.map(|c| {
            format!(
                "a known cause matches this machine: {} is loaded ({}).",
                c.driver, c.url
            )
        });
        let who = match (diagnosis, known) {
            (AnswerKind::WindowsOwned, Some(known)) => {
                format!("It belongs to Windows ({}); {known}", self.os_owner(top))
            }
            (_, Some(known)) if diagnosis != AnswerKind::NothingAbnormal => {
                let mut sentence = known;
                sentence[..1].make_ascii_uppercase();
                sentence
            }
            (diagnosis, _) => match diagnosis {
                AnswerKind::NoData
                | AnswerKind::NothingAbnormal
                | AnswerKind::Inconclusive
                | AnswerKind::VerifierAllocations
                | AnswerKind::PoolTotalsOnly => String::new(),
                AnswerKind::ThirdPartyDriver => match suspects
                    .iter()
                    .filter(|s| !s.os_component)
                    .find(claims_top)
                    .or_else(|| suspects.iter().find(|s| !s.os_component))
                {
                    Some(s) => format!("Most likely cause: {}.", suspect_name(s)),
                    None => "Its driver is named below.".into(),
                },
                AnswerKind::WindowsOwned => {
                    let owner = self.os_owner(top);
                    let holder = suspects
                        .iter()
                        .filter(claims_top)
                        .find(|s| !s.os_component)
                        .map(|s| format!(" Third-party candidate: {}.", suspect_name(s)))
                        .unwrap_or_default();
                    format!(
                        "It belongs to Windows ({owner}); the usual cause is a third-party driver holding it (a filter driver), found with a pool trace.{holder}"
                    )
                }
                AnswerKind::KnownOwnerUnclear => format!(
                    "The knowledge base describes this tag (\"{}\") but names no driver file: the \
                 owner is unclear; upload the machine's drivers for scanning.",
                    top.described.map_or("", |e| e.description.as_str())
                ),
                AnswerKind::UnknownTag => {
                    "The knowledge base does not know this tag: the cause is a \
                                       driver that has not been scanned; upload the machine's \
                                       drivers for scanning."
                        .to_owned()
                }
            },
        };
        let firmness = match strength {
            VerdictStrength::Weak if n < 2 => {
                " Verdict weak: one snapshot shows size, not growth; analyze a second snapshot taken a few hours later to firm it up."
            }
            VerdictStrength::Weak => {
                " Verdict weak: nothing grows across the snapshots by enough to count as a leak."
            }
            VerdictStrength::Moderate => {
                " Verdict moderate: more snapshots over a longer time would firm it up."
            }
            VerdictStrength::Strong => " Verdict strong: steady growth over the series.",
        };
        format!("Top tag `{tag}` ({}) {how}. {who}{firmness}", top.pool)
    }

    /// What to do, most useful first; the answer's action leads unless a step already says it.
    pub(super) fn next_steps(
        &self,
        n: usize,
        work: &[&mut Work<'a>],
        suspects: &[Suspect],
        unknown: &[UnknownTag],
        os: Option<&OsTagAdvice>,
        answer: &Answer,
    ) -> Vec<String> {
        let healthy = answer.kind == AnswerKind::NothingAbnormal;
        let mut steps = Vec::new();
        if let Some(s) = suspects.iter().find(|s| !s.os_component) {
            steps.push(format!("{}: {}", s.driver, s.guidance.text));
        }
        if n < 2 {
            steps.push(format!(
                "Take a second snapshot in a few hours with the same tool and analyze both together (several files in one request): growth over time is much firmer evidence than size. Without the WDK, `{}` on the Windows machine writes a snapshot and the driver list with versions each time it runs.",
                collect_files_command()
            ));
            if let Some(server) = self.options.scan_target.server() {
                steps.push(format!(
                    "Or let this server keep the machine's history and say when a tag starts growing: on the Windows machine, in an elevated prompt, `{}` (the ingest token in place of {INGEST_TOKEN_PLACEHOLDER}).",
                    fleet_watch_command(server)
                ));
            }
        }
        if self.input.drivers.is_none() {
            steps.push(format!(
                "Add the loaded-driver list with file versions (PowerShell, as the `drivers` part) so candidates are narrowed to loaded drivers, KMDF default tags are matched and the version on the machine is known: `{POWERSHELL_DRIVER_LIST}` (`driverquery /v /fo csv` works too, without versions), or without PowerShell `{}`, which writes it as drivers-….csv.",
                collect_files_command()
            ));
        }
        if let Some(os) = os {
            for trace in &os.traces {
                steps.push(format!(
                    "Trace the OS tags {} (elevated prompt): {}",
                    trace.tags.join(", "),
                    trace.wpr_commands.join(" ; ")
                ));
            }
        }
        let top_unknown: Vec<&UnknownTag> = unknown
            .iter()
            .filter(|u| {
                work.iter()
                    .take(5)
                    .any(|w| w.tag == u.tag && w.pool == u.pool)
            })
            .collect();
        if let Some(u) = top_unknown.first().filter(|_| !healthy) {
            steps.push(format!(
                "The knowledge base does not know `{}`: {}.",
                u.tag.trimmed(),
                u.next_steps[0]
            ));
        }
        if !steps.iter().any(|s| s.contains(&answer.action)) {
            steps.insert(0, answer.action.clone());
        }
        steps
    }

    /// What was read: snapshots, files, the time basis and span, labels for charts.
    pub(super) fn input_info(&self, table: &SeriesTable<'a>) -> InputInfo {
        let snaps = &self.input.snapshots;
        let labels = snaps
            .iter()
            .enumerate()
            .map(|(i, s)| match (s.taken_at, &s.label) {
                (Some(t), _) => format!(
                    "{:04}-{:02}-{:02} {:02}:{:02}",
                    t.year(),
                    u8::from(t.month()),
                    t.day(),
                    t.hour(),
                    t.minute()
                ),
                (None, Some(l)) if !l.trim().is_empty() => {
                    l.trim().chars().take(24).collect::<String>()
                }
                _ => format!("#{}", i + 1),
            })
            .collect();
        let series = self.series_points();
        InputInfo {
            snapshots: snaps.len(),
            files: self.input.files.clone(),
            time_basis: table.time_basis(),
            first_taken_at: snaps.first().and_then(|s| s.taken_at),
            last_taken_at: snaps.last().and_then(|s| s.taken_at),
            span_hours: table
                .hours
                .as_ref()
                .and_then(|h| h.last().copied())
                .map(|h| round(h, 3)),
            driver_list: self.input.drivers.as_ref().map(Vec::len),
            warnings: self.input.warnings.clone(),
            labels,
            order: self.series_order(&series),
            series,
        }
    }

    /// The snapshots in the order used, each with its file, frame and time.
    fn series_points(&self) -> Vec<SeriesPoint> {
        self.input
            .snapshots
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let file = self.input.files.get(s.file);
                let several = file.is_some_and(|f| f.snapshots > 1);
                SeriesPoint {
                    position: i + 1,
                    file: s.file,
                    file_name: file.and_then(|f| f.name.clone()),
                    frame: several.then_some(s.frame + 1),
                    taken_at: s.taken_at,
                    label: s.label.as_deref().map(crate::snapshot::plain_label),
                }
            })
            .collect()
    }

    /// How the series was put in order, with the sentence that says so.
    fn series_order(&self, series: &[SeriesPoint]) -> SeriesOrder {
        let ordering = self.input.order;
        let names: Vec<String> = series.iter().map(point_name).collect();
        let listed = if names.len() > 8 {
            format!(
                "{}, … {}",
                names[..3].join(", "),
                names[names.len() - 2..].join(", ")
            )
        } else {
            names.join(", ")
        };
        let why = match ordering.basis {
            OrderBasis::Single => String::new(),
            OrderBasis::Times => "ordered by the times they carry".to_owned(),
            OrderBasis::Counters => "ordered by poolmon's Allocs and Frees, which count from \
                 boot and only grow (the snapshots carry no times)"
                .to_owned(),
            OrderBasis::UploadOrder => {
                let one_file = series.iter().all(|p| p.file == series[0].file);
                let sent = if one_file {
                    "in the order they stand in the input"
                } else {
                    "in the order sent"
                };
                match ordering.counters {
                    CounterCheck::Disagree => format!(
                        "{sent}: their Allocs and Frees counts rise between some and fall \
                         between others (a restart in between, or another machine), and they \
                         carry no times"
                    ),
                    _ if one_file => format!(
                        "{sent}: they carry no times and no Allocs and Frees counts to order \
                         them by"
                    ),
                    _ => format!(
                        "{sent}: they carry no times and no Allocs and Frees counts to order \
                         them by, so send them oldest first"
                    ),
                }
            }
        };
        let mut explanation = match ordering.basis {
            OrderBasis::Single => String::new(),
            _ => format!("Oldest first: {listed}; {why}."),
        };
        if ordering.moved {
            let mut sent: Vec<&SeriesPoint> = series.iter().collect();
            sent.sort_by_key(|p| (p.file, p.frame));
            let sent: Vec<String> = sent.iter().map(|p| point_name(p)).collect();
            let _ = write!(
                explanation,
                " They were sent in another order ({}), which the {} contradict.",
                sent.join(", "),
                if ordering.basis == OrderBasis::Times {
                    "times"
                } else {
                    "counts"
                }
            );
        }
        if ordering.basis == OrderBasis::Times && ordering.counters == CounterCheck::Disagree {
            explanation.push_str(
                " Their Allocs and Frees counts fall between some of them: the machine \
                 restarted in between, or they come from different machines.",
            );
        }
        SeriesOrder {
            basis: ordering.basis,
            counters: ordering.counters,
            upload_order_differs: ordering.moved,
            explanation,
        }
    }

    /// The full finding of a tag shown.
    pub(super) fn finding(
        &self,
        w: &mut Work<'a>,
        table: &SeriesTable<'a>,
        machine: &MachineTotals,
    ) -> Finding {
        let total = pool_total(machine, w.pool);
        let normal = self.normal.get(w.tag, w.pool);
        let owner = match owner_of(&w.cands) {
            OwnerKind::Unknown if w.is_described() => OwnerKind::KnownOwnerUnclear,
            owner => owner,
        };
        let mut cands = std::mem::take(&mut w.cands);
        cands.sort_by(|a, b| b.weight.total_cmp(&a.weight));
        let candidates = cands
            .iter()
            .take(8)
            .map(|c| Candidate {
                component: c
                    .entry
                    .and_then(|e| e.owner.component.as_deref())
                    .map(str::to_owned),
                vendor: c
                    .entry
                    .and_then(|e| e.vendor.as_deref())
                    .map(|v| self.vendors.canonical_name(v)),
                source: c.source().to_owned(),
                driver: self.name(c).to_owned(),
                evidence: c.kind,
                confidence: c.entry.map(|e| e.confidence),
                line: c.entry.and_then(|e| e.line),
                source_url: c.source_url(),
                detail: self.detail(c),
                os_component: c.os,
                loaded: c.loaded,
                weight: round(c.weight, 4),
            })
            .collect();
        Finding {
            tag: w.tag,
            pool: w.pool,
            bytes: w.bytes,
            outstanding: table.last_outstanding(w.series),
            pool_share: (total > 0).then(|| round(w.bytes as f64 / total as f64, 4)),
            normal_bytes: normal_bytes(normal),
            normal_source: if normal.is_some() {
                NormalSource::Table
            } else {
                NormalSource::Default
            },
            normal_note: normal.map(|r| r.note.clone()),
            size_ratio: round(w.size_ratio, 4),
            growth: w.growth.take().map(|g| *g),
            score: round(w.score, 4),
            owner,
            description: w
                .described
                .map(|e| e.description.clone())
                .or_else(|| self.reversed_hint(w.tag)),
            candidates,
            group: w.group,
            history: if table.n >= 2 {
                table.bytes(w.series).to_vec()
            } else {
                Vec::new()
            },
            source: None,
        }
    }
}

/// A snapshot as a person finds it: its file (and frame), and its time when it has one.
fn point_name(p: &SeriesPoint) -> String {
    let mut name = match (&p.file_name, p.frame) {
        (Some(file), None) => file.clone(),
        (Some(file), Some(frame)) => format!("{file} frame {frame}"),
        (None, Some(frame)) => match &p.label {
            Some(label) if !label.is_empty() => format!("\"{label}\""),
            _ => format!("frame {frame}"),
        },
        (None, None) => format!("snapshot {}", p.position),
    };
    if let Some(t) = p.taken_at {
        let _ = write!(
            name,
            " ({:04}-{:02}-{:02} {:02}:{:02})",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute()
        );
    }
    name
}

/// How two tags were seen to grow together, in words.
fn lockstep_reason(lockstep: Lockstep) -> String {
    match lockstep {
        Lockstep::Correlated { r, intervals } => format!(
            "per-interval growth of outstanding allocations correlates (r = {r:.2} over {intervals} intervals)"
        ),
        Lockstep::SameAmount(a, b) => {
            format!("outstanding allocations grew by the same amount (+{a} and +{b})")
        }
        Lockstep::SameRatio(ratio) => format!(
            "outstanding allocations grew in the same ratio ({ratio:.2}:1) in every interval"
        ),
    }
}

/// Said above the suspects when the answer's tag is not theirs. They own smaller tags, and a
/// reader who skips the answer would take the first of them (often `ntoskrnl.exe`) for the cause.
pub fn suspects_note(a: &Analysis) -> Option<String> {
    if a.suspects.is_empty() {
        return None;
    }
    let tag = a.answer.tag.map(|t| format!("`{}`", t.trimmed()));
    match (a.answer.kind, tag) {
        (AnswerKind::UnknownTag | AnswerKind::KnownOwnerUnclear, Some(tag)) => Some(format!(
            "No driver is known to allocate {tag}, the top tag: these are its candidates (a name \
             that fits a KMDF default tag, or the owner of a tag that moves in lockstep with it)."
        )),
        (AnswerKind::NothingAbnormal, _) => Some(
            "Nothing is abnormal: these are the owners of the largest tags, for reference.".into(),
        ),
        _ => None,
    }
}
