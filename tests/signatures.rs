//! Authenticode verification and catalog signing, as sigcheck reports them: real signed
//! drivers of the shared corpus verify, the same files changed by one byte read "hash
//! mismatch", damaged signatures read "bad signature" and never panic, and a catalog built
//! here (signed with the test key of `tests/fixtures/signing`) makes its member files
//! catalog-signed, whichever is uploaded first, across a restart.

mod common;
mod driver_support;

use std::path::{Path, PathBuf};

use common::{TOKEN, scan_folder, spawn_app};
use der::Encode;
use driver_support::pe_layout;
use poolsleuth::driver::authenticode::catalog;
use poolsleuth::driver::authenticode::{
    DigestAlgorithm, LinkCheck, SignatureStatus, TimestampKind,
};
use poolsleuth::driver::{AnalysisLimits, DriverAnalysis, analyze};
use proptest::prelude::*;

fn signing_fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/signing")
        .join(name)
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn analysis(name: &str, bytes: &[u8]) -> DriverAnalysis {
    analyze(name, bytes, &AnalysisLimits::default()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The signed drivers of the corpus: (folder, file, signer of the strongest signature, its
/// digest, how its signing time is known).
const SIGNED: &[(&str, &str, &str, DigestAlgorithm, Option<TimestampKind>)] = {
    use DigestAlgorithm::{Sha1, Sha256};
    use TimestampKind::{Legacy, Rfc3161};
    const WHQL: &str = "Microsoft Windows Hardware Compatibility Publisher";
    &[
        (
            "drivers",
            "WinDivert32_v1.sys",
            "Ars Nova Systems",
            Sha256,
            Some(Rfc3161),
        ),
        (
            "drivers",
            "WinDivert64_v1.sys",
            "Ars Nova Systems",
            Sha256,
            Some(Rfc3161),
        ),
        (
            "drivers",
            "WinDivert64_v2.sys",
            "成都密思听科技有限公司",
            Sha256,
            Some(Legacy),
        ),
        (
            "drivers",
            "WinRing0.sys",
            "Noriyuki MIYAZAKI",
            Sha1,
            Some(Legacy),
        ),
        (
            "drivers",
            "WinRing0x64.sys",
            "Noriyuki MIYAZAKI",
            Sha1,
            Some(Legacy),
        ),
        (
            "drivers",
            "systeminformer_amd64.sys",
            WHQL,
            Sha256,
            Some(Rfc3161),
        ),
        (
            "drivers",
            "systeminformer_arm64.sys",
            WHQL,
            Sha256,
            Some(Rfc3161),
        ),
        // Dual-signed: the vendor's SHA-1 signature holds Microsoft's SHA-256 one, nested.
        ("drivers", "winpmem_x64.sys", WHQL, Sha256, Some(Rfc3161)),
        ("drivers", "winpmem_x86.sys", WHQL, Sha256, Some(Rfc3161)),
        (
            "drivers-more",
            "ScpVBus_amd64.sys",
            "Open Source Developer, Benjamin Höglinger-Stelzer",
            Sha1,
            Some(Legacy),
        ),
        (
            "drivers-more",
            "ScpVBus_x86.sys",
            "Open Source Developer, Benjamin Höglinger-Stelzer",
            Sha1,
            Some(Legacy),
        ),
        (
            "drivers-more",
            "Scream_x64.sys",
            "Tom Kistner",
            Sha256,
            None,
        ),
        (
            "drivers-more",
            "Scream_x86.sys",
            "Tom Kistner",
            Sha256,
            None,
        ),
        (
            "drivers-more",
            "VBoxUSBMon_arm64.sys",
            "Oracle America, Inc.",
            Sha256,
            Some(Rfc3161),
        ),
        (
            "drivers-more",
            "VBoxUSBMon_x64.sys",
            "Oracle America, Inc.",
            Sha256,
            Some(Rfc3161),
        ),
        (
            "drivers-more",
            "VBoxUSB_arm64.sys",
            "Oracle America, Inc.",
            Sha256,
            Some(Rfc3161),
        ),
        (
            "drivers-more",
            "VBoxUSB_x64.sys",
            "Oracle America, Inc.",
            Sha256,
            Some(Rfc3161),
        ),
        (
            "drivers-more",
            "chipsec_hlpr.sys",
            "Chipsec",
            Sha1,
            Some(Legacy),
        ),
        (
            "drivers-more",
            "kprocesshacker_amd64.sys",
            "Wen Jia Liu",
            Sha256,
            Some(Rfc3161),
        ),
        (
            "drivers-more",
            "kprocesshacker_i386.sys",
            "Wen Jia Liu",
            Sha256,
            Some(Rfc3161),
        ),
        (
            "drivers-more",
            "phdskmnt_win7_amd64.sys",
            "Lagerkvist Teknisk Radgivning i Boras HB",
            Sha1,
            Some(Legacy),
        ),
        (
            "drivers-more",
            "phdskmnt_win7_ia64.sys",
            "Lagerkvist Teknisk Radgivning i Boras HB",
            Sha1,
            Some(Legacy),
        ),
        (
            "drivers-more",
            "phdskmnt_winxp_i386.sys",
            "Lagerkvist Teknisk Radgivning i Boras HB",
            Sha1,
            Some(Legacy),
        ),
        (
            "drivers-more",
            "zttap200_ndis5_x64.sys",
            "ZeroTier Networks LLC",
            Sha1,
            Some(Legacy),
        ),
        (
            "drivers-more",
            "zttap300_x64.sys",
            WHQL,
            Sha256,
            Some(Rfc3161),
        ),
        (
            "drivers-more",
            "zttap300_x86.sys",
            "ZeroTier, Inc.",
            Sha256,
            Some(Rfc3161),
        ),
    ]
};

fn corpus_folder(folder: &str) -> Option<PathBuf> {
    common::corpus::present(common::corpus::path(folder, None))
}

/// `bytes` with one byte inside the `.text` section inverted.
fn with_text_byte_changed(bytes: &[u8]) -> Vec<u8> {
    let (_, table, sections) = pe_layout(bytes);
    let text = (0..sections)
        .map(|i| table + 40 * i)
        .find(|&s| bytes[s..s + 8].starts_with(b".text"))
        .expect("a .text section");
    let le32 = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    let (raw_size, raw_offset) = (le32(text + 16), le32(text + 20));
    let mut changed = bytes.to_vec();
    changed[raw_offset + raw_size / 2] ^= 0xff;
    changed
}

#[test]
fn signed_corpus_drivers_verify_and_read_hash_mismatch_when_changed() {
    for &(folder, file, signer, digest, timestamp) in SIGNED {
        let Some(dir) = corpus_folder(folder) else {
            return;
        };
        let bytes = read(&dir.join(file));
        let a = analysis(file, &bytes);
        let s = &a.signature;
        assert_eq!(s.status, SignatureStatus::Valid, "{file}: {s:?}");
        assert_eq!(s.signer.as_deref(), Some(signer), "{file}");
        assert_eq!(s.digest_algorithm, Some(digest), "{file}");
        assert_eq!(s.timestamp, timestamp, "{file}: {:?}", s.problem);
        assert_eq!(s.signing_time.is_some(), timestamp.is_some(), "{file}");
        assert!(
            s.summary()
                .starts_with(&format!("signed by {signer} (verified")),
            "{file}"
        );
        assert!(!s.wdk_test_certificate, "{file}");
        assert_eq!(
            s.whql,
            signer == "Microsoft Windows Hardware Compatibility Publisher",
            "{file}"
        );
        // Every issuer the file carries checks out with its key.
        assert!(
            s.issuers.iter().all(|i| i.link != LinkCheck::Unsupported),
            "{file}: {:?}",
            s.issuers
        );

        let changed = with_text_byte_changed(&bytes);
        let c = analysis(file, &changed).signature;
        assert_eq!(c.status, SignatureStatus::HashMismatch, "{file}: {c:?}");
        assert_eq!(
            c.summary(),
            format!(
                "signed by {}, but the file was changed after signing",
                c.signer.as_deref().unwrap()
            ),
            "{file}"
        );
    }
}

#[test]
fn dual_signed_drivers_report_the_strongest_and_name_the_other_signer() {
    let Some(dir) = corpus_folder("drivers") else {
        return;
    };
    let a = analysis("winpmem_x64.sys", &read(&dir.join("winpmem_x64.sys")));
    assert_eq!(a.signature.signatures, 2);
    assert_eq!(a.signature.other_signers, ["Binalyze LLC"]);
    // The file's first signature is the vendor's: it stays the signer sigcheck names.
    assert_eq!(a.signer.as_deref(), Some("Binalyze LLC"));
}

#[test]
fn unsigned_corpus_drivers_read_unsigned() {
    let Some(dir) = corpus_folder("drivers") else {
        return;
    };
    for file in ["wine_fltmgr.sys", "wine_netio.sys"] {
        let a = analysis(file, &read(&dir.join(file)));
        assert_eq!(a.signature.status, SignatureStatus::Unsigned, "{file}");
        assert_eq!(a.signature.summary(), "unsigned");
    }
}

#[test]
fn a_wdk_test_signature_verifies_but_names_no_vendor() {
    let bytes = read(&signing_fixture("patterns_x64_O2.wdktest.sys"));
    let a = analysis("patterns.sys", &bytes);
    let s = &a.signature;
    assert_eq!(s.status, SignatureStatus::Valid, "{s:?}");
    assert!(s.wdk_test_certificate);
    assert_eq!(
        s.signer.as_deref(),
        Some("WDKTestCert poolsleuth,134100000000000000")
    );
    assert!(
        s.summary().starts_with("WDK test certificate"),
        "{}",
        s.summary()
    );
    assert!(!s.vouches() && s.warning().is_some());
    let changed = analysis("patterns.sys", &with_text_byte_changed(&bytes));
    assert_eq!(changed.signature.status, SignatureStatus::HashMismatch);
}

#[test]
fn a_chain_in_the_file_is_checked_link_by_link() {
    let a = analysis(
        "patterns.sys",
        &read(&signing_fixture("patterns_x86_O2.publisher-sha1.sys")),
    );
    let s = &a.signature;
    assert_eq!(s.status, SignatureStatus::Valid, "{s:?}");
    assert_eq!(s.digest_algorithm, Some(DigestAlgorithm::Sha1));
    assert_eq!(s.signer.as_deref(), Some("Poolsleuth Test Publisher"));
    assert_eq!(s.issuers.len(), 1);
    assert_eq!(s.issuers[0].name, "Poolsleuth Test Root");
    assert_eq!(s.issuers[0].link, LinkCheck::Verified);
}

/// The WIN_CERTIFICATE's PKCS#7 payload range of a signed file.
fn payload_range(bytes: &[u8]) -> std::ops::Range<usize> {
    let (directories, _, _) = pe_layout(bytes);
    let entry = directories + 4 * 8;
    let le32 = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    let (offset, _) = (le32(entry), le32(entry + 4));
    let length = le32(offset);
    offset + 8..offset + length
}

/// `bytes` with its signature cut to `keep` bytes of DER (the table shrunk to match).
fn with_signature_truncated(bytes: &[u8], keep: usize) -> Vec<u8> {
    let payload = payload_range(bytes);
    let (directories, _, _) = pe_layout(bytes);
    let entry = directories + 4 * 8;
    let mut cut = bytes[..payload.start + keep].to_vec();
    while !cut.len().is_multiple_of(8) {
        cut.push(0);
    }
    let table = payload.start - 8;
    let size = (cut.len() - table) as u32;
    cut[entry + 4..entry + 8].copy_from_slice(&size.to_le_bytes());
    cut[table..table + 4].copy_from_slice(&((payload.start + keep - table) as u32).to_le_bytes());
    cut
}

#[test]
fn a_garbage_certificate_table_is_a_bad_signature() {
    let bytes = read(&signing_fixture("patterns_x64_O2.wdktest.sys"));
    let mut garbage = bytes.clone();
    for (i, b) in garbage[payload_range(&bytes)].iter_mut().enumerate() {
        *b = (i * 7 + 3) as u8;
    }
    let a = analysis("patterns.sys", &garbage);
    assert_eq!(
        a.signature.status,
        SignatureStatus::BadSignature,
        "{:?}",
        a.signature
    );
    assert!(a.signature.summary().starts_with("bad signature"));
    let cut = analysis("patterns.sys", &with_signature_truncated(&bytes, 100));
    assert_eq!(cut.signature.status, SignatureStatus::BadSignature);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn truncated_signatures_are_bad_never_a_panic(keep in 0usize..2000) {
        let bytes = read(&signing_fixture("patterns_x64_O2.wdktest.sys"));
        let full = payload_range(&bytes).len();
        let keep = keep % full;
        let a = analysis("patterns.sys", &with_signature_truncated(&bytes, keep));
        prop_assert_eq!(a.signature.status, SignatureStatus::BadSignature);
    }

    #[test]
    fn changed_signature_bytes_never_panic(at in 0usize..4000, value: u8, garbage in proptest::collection::vec(any::<u8>(), 0..64)) {
        let bytes = read(&signing_fixture("patterns_x86_O2.publisher-sha1.sys"));
        let payload = payload_range(&bytes);
        let mut changed = bytes.clone();
        let at = payload.start + at % payload.len();
        changed[at] ^= value | 1;
        let end = (at + garbage.len()).min(payload.end);
        changed[at..end].copy_from_slice(&garbage[..end - at]);
        let a = analysis("patterns.sys", &changed);
        prop_assert_ne!(a.signature.status, SignatureStatus::Unsigned);
        prop_assert_ne!(a.signature.status, SignatureStatus::NotChecked);
    }
}

// --- Catalogs ---

/// A DER element: tag, definite length, content.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let be = n.to_be_bytes();
        let skip = be.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (be.len() - skip) as u8);
        out.extend_from_slice(&be[skip..]);
    }
    out.extend_from_slice(content);
    out
}

fn seq(parts: &[&[u8]]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

fn oid(dotted: &str) -> Vec<u8> {
    dotted
        .parse::<der::asn1::ObjectIdentifier>()
        .unwrap()
        .to_der()
        .unwrap()
}

const NULL: [u8; 2] = [0x05, 0x00];

fn pem_der(path: &Path) -> Vec<u8> {
    let text = read(path);
    der::pem::decode_vec(&text).expect("PEM").1
}

/// A catalog (PKCS#7 SignedData of a certificate trust list) listing `members` (Authenticode
/// hashes with their algorithm), signed by the test publisher with SHA-256, its chain
/// included. `tamper` changes the list after signing.
fn build_catalog(members: &[(DigestAlgorithm, Vec<u8>)], tamper: bool) -> Vec<u8> {
    use rsa::pkcs8::DecodePrivateKey;
    use rsa::signature::{SignatureEncoding, Signer};

    let digest_oid = |a: DigestAlgorithm| match a {
        DigestAlgorithm::Sha1 => oid("1.3.14.3.2.26"),
        _ => oid("2.16.840.1.101.3.4.2.1"),
    };
    let subjects: Vec<Vec<u8>> = members
        .iter()
        .map(|(algorithm, hash)| {
            let hex: String = hash.iter().map(|b| format!("{b:02X}")).collect();
            let identifier: Vec<u8> = hex.encode_utf16().flat_map(u16::to_le_bytes).collect();
            // SpcPeImageData as signtool writes it: no flags, the file "<<<Obsolete>>>".
            let obsolete: Vec<u8> = "<<<Obsolete>>>"
                .encode_utf16()
                .flat_map(u16::to_be_bytes)
                .collect();
            let pe_image_data = seq(&[
                &[0x03, 0x01, 0x00],
                &tlv(0xa0, &tlv(0xa2, &tlv(0x80, &obsolete))),
            ]);
            let indirect = seq(&[
                &seq(&[&oid("1.3.6.1.4.1.311.2.1.15"), &pe_image_data]),
                &seq(&[&seq(&[&digest_oid(*algorithm), &NULL]), &tlv(0x04, hash)]),
            ]);
            let attribute = seq(&[&oid("1.3.6.1.4.1.311.2.1.4"), &tlv(0x31, &indirect)]);
            seq(&[&tlv(0x04, &identifier), &tlv(0x31, &attribute)])
        })
        .collect();
    let mut list = seq(&[
        &seq(&[&oid("1.3.6.1.4.1.311.12.1.1")]),
        &tlv(0x04, b"poolsleuth-test!"),
        &tlv(0x17, b"261207120000Z"),
        &seq(&[&oid("1.3.6.1.4.1.311.12.1.2"), &NULL]),
        &tlv(0x30, &subjects.concat()),
    ]);
    let list_value = {
        // The content octets of the list: what the message digest covers.
        let header = if list[1] & 0x80 != 0 {
            2 + (list[1] & 0x7f) as usize
        } else {
            2
        };
        list[header..].to_vec()
    };
    let message_digest = DigestAlgorithm::Sha256.digest(&list_value);
    if tamper {
        let last = list.len() - 1;
        list[last] ^= 0xff;
    }
    let publisher = pem_der(&signing_fixture("publisher.cert.pem"));
    let root = pem_der(&signing_fixture("root.cert.pem"));
    let certificate = <x509_cert::Certificate as der::Decode>::from_der(&publisher).unwrap();
    let issuer_and_serial = seq(&[
        &certificate.tbs_certificate.issuer.to_der().unwrap(),
        &certificate.tbs_certificate.serial_number.to_der().unwrap(),
    ]);
    let attributes = [
        seq(&[
            &oid("1.2.840.113549.1.9.3"),
            &tlv(0x31, &oid("1.3.6.1.4.1.311.10.1")),
        ]),
        seq(&[
            &oid("1.2.840.113549.1.9.4"),
            &tlv(0x31, &tlv(0x04, &message_digest)),
        ]),
    ]
    .concat();
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(
        &String::from_utf8(read(&signing_fixture("publisher.key.pem"))).unwrap(),
    )
    .unwrap();
    let signature = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(key)
        .sign(&tlv(0x31, &attributes))
        .to_vec();
    let sha256 = seq(&[&oid("2.16.840.1.101.3.4.2.1"), &NULL]);
    let signer_info = seq(&[
        &[0x02, 0x01, 0x01],
        &issuer_and_serial,
        &sha256,
        &tlv(0xa0, &attributes),
        &seq(&[&oid("1.2.840.113549.1.1.1"), &NULL]),
        &tlv(0x04, &signature),
    ]);
    let signed_data = seq(&[
        &[0x02, 0x01, 0x01],
        &tlv(0x31, &sha256),
        &seq(&[&oid("1.3.6.1.4.1.311.10.1"), &tlv(0xa0, &list)]),
        &tlv(0xa0, &[publisher, root].concat()),
        &tlv(0x31, &signer_info),
    ]);
    seq(&[&oid("1.2.840.113549.1.7.2"), &tlv(0xa0, &signed_data)])
}

fn fixture_driver(name: &str) -> Vec<u8> {
    driver_support::read_fixture(name)
}

/// The catalog entry of a file: its Authenticode hash as `analyze` computes it.
fn member(bytes: &[u8], algorithm: DigestAlgorithm) -> (DigestAlgorithm, Vec<u8>) {
    let layout = poolsleuth::driver::authenticode::Layout::of(bytes).unwrap();
    (algorithm, layout.hash(bytes, algorithm))
}

#[test]
fn a_built_catalog_verifies_and_lists_its_members() {
    let x64 = fixture_driver("patterns_x64_O2.sys");
    let x86 = fixture_driver("patterns_x86_O2.sys");
    let bytes = build_catalog(
        &[
            member(&x64, DigestAlgorithm::Sha256),
            member(&x86, DigestAlgorithm::Sha1),
        ],
        false,
    );
    assert!(catalog::is_catalog(&bytes));
    let cat = catalog::read("test.cat", &bytes, "00".repeat(32)).unwrap();
    assert_eq!(
        cat.signature.status,
        SignatureStatus::Valid,
        "{:?}",
        cat.signature
    );
    assert_eq!(
        cat.signature.signer.as_deref(),
        Some("Poolsleuth Test Publisher")
    );
    assert_eq!(cat.signature.issuers[0].link, LinkCheck::Verified);
    let a64 = analysis("patterns.sys", &x64);
    let a86 = analysis("patterns.sys", &x86);
    assert!(cat.members.contains(&a64.authenticode.unwrap().sha256));
    assert!(cat.members.contains(&a86.authenticode.unwrap().sha1));

    let tampered = catalog::read(
        "bad.cat",
        &build_catalog(&[member(&x64, DigestAlgorithm::Sha256)], true),
        "11".repeat(32),
    )
    .unwrap();
    assert_eq!(tampered.signature.status, SignatureStatus::BadSignature);
    // A driver file is no catalog.
    assert!(!catalog::is_catalog(&x64));
    assert!(catalog::read("x.cat", &x64, String::new()).is_err());
}

/// The catalog committed as `tests/fixtures/signing/test.cat` (a fuzz seed, and a file to
/// check with other tools): the two pattern fixtures, by SHA-256 and by SHA-1.
fn fixture_catalog() -> Vec<u8> {
    build_catalog(
        &[
            member(
                &fixture_driver("patterns_x64_O2.sys"),
                DigestAlgorithm::Sha256,
            ),
            member(
                &fixture_driver("patterns_x86_O2.sys"),
                DigestAlgorithm::Sha1,
            ),
        ],
        false,
    )
}

#[test]
fn the_committed_catalog_is_the_one_the_tests_build() {
    let built = fixture_catalog();
    let path = signing_fixture("test.cat");
    if std::env::var_os("POOLSLEUTH_WRITE_FIXTURES").is_some() {
        std::fs::write(&path, &built).unwrap();
    }
    assert!(
        read(&path) == built,
        "{} is not what build_catalog makes now: rerun with POOLSLEUTH_WRITE_FIXTURES=1",
        path.display()
    );
}

/// The signature of the analyzed file `sha256` on a driver's page (JSON).
fn signature_of<'a>(driver: &'a serde_json::Value, sha256: &str) -> &'a serde_json::Value {
    let analyses = driver["analyses"].as_array().expect("analyses");
    &analyses
        .iter()
        .find(|a| a["sha256"] == sha256)
        .unwrap_or_else(|| panic!("no analysis {sha256} in {driver}"))["signature"]
}

fn sha256_hex(bytes: &[u8]) -> String {
    poolsleuth::driver::identity::sha256_hex(bytes)
}

#[tokio::test]
async fn a_catalog_signs_its_members_whichever_comes_first_and_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let x64 = fixture_driver("patterns_x64_O2.sys");
    let x86 = fixture_driver("patterns_x86_O2.sys");
    let cat = build_catalog(
        &[
            member(&x64, DigestAlgorithm::Sha256),
            member(&x86, DigestAlgorithm::Sha1),
        ],
        false,
    );
    let app = spawn_app(dir.path(), Some(TOKEN)).await;

    // The driver first: unsigned until its catalog arrives.
    let (status, report) = app.upload_drivers(&[("patterns64.sys", x64.clone())]).await;
    assert_eq!(status, 201, "{report}");
    assert_eq!(
        report["files"][0]["analysis"]["signature"]["status"],
        "unsigned"
    );
    let (status, report) = app.upload_drivers(&[("test.cat", cat.clone())]).await;
    assert_eq!(status, 200, "{report}");
    let file = &report["files"][0];
    assert_eq!(file["status"], "catalog", "{report}");
    // Counted as what it is: not stored as a driver, not failed.
    assert_eq!(
        (&report["catalogs"], &report["stored"], &report["errors"]),
        (&1.into(), &0.into(), &0.into()),
        "{report}"
    );
    assert_eq!(file["catalog"]["signature"]["status"], "valid");
    assert_eq!(file["catalog"]["members"], 2);
    assert_eq!(file["catalog"]["drivers_updated"], 1);
    let (_, driver) = app.get_json("/api/v1/drivers/patterns.sys").await;
    let signature = signature_of(&driver, &sha256_hex(&x64));
    assert_eq!(signature["status"], "catalog-signed", "{driver}");
    assert_eq!(signature["signer"], "Poolsleuth Test Publisher");
    assert_eq!(signature["catalog"]["file_name"], "test.cat");
    // Search hits carry it too.
    let (_, search) = app
        .get_json("/api/v1/search?q=patterns.sys&limit=200")
        .await;
    let hit = search["hits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["sha256"] == sha256_hex(&x64))
        .unwrap_or_else(|| panic!("{search}"));
    assert_eq!(hit["signature"]["status"], "catalog-signed", "{search}");
    assert_eq!(
        hit["signature"]["summary"],
        "catalog-signed by Poolsleuth Test Publisher (test.cat)"
    );

    // The catalog first: a driver it lists is catalog-signed as it is stored.
    let (_, report) = app.upload_drivers(&[("patterns86.sys", x86.clone())]).await;
    assert_eq!(
        report["files"][0]["analysis"]["signature"]["status"], "catalog-signed",
        "{report}"
    );

    // A catalog whose signature fails vouches for nothing.
    let other = fixture_driver("kmdf_x64_O2.sys");
    let bad = build_catalog(&[member(&other, DigestAlgorithm::Sha256)], true);
    let (_, report) = app
        .upload_drivers(&[("bad.cat", bad), ("kmdf.sys", other)])
        .await;
    assert_eq!(
        report["files"][0]["catalog"]["signature"]["status"], "bad-signature",
        "{report}"
    );
    assert_eq!(
        report["files"][1]["analysis"]["signature"]["status"], "unsigned",
        "{report}"
    );

    // The driver page says it.
    let page = app.get("/drivers/patterns.sys").await.text().await.unwrap();
    assert!(
        page.contains("catalog-signed by Poolsleuth Test Publisher"),
        "{page}"
    );
    app.stop().await;

    let app = spawn_app(dir.path(), Some(TOKEN)).await;
    let (_, driver) = app.get_json("/api/v1/drivers/patterns.sys").await;
    assert_eq!(
        signature_of(&driver, &sha256_hex(&x64))["status"],
        "catalog-signed"
    );
    // Catalogs survive the restart: a driver uploaded now still finds its catalog.
    let source = format!("driver:{}", sha256_hex(&x64));
    assert_eq!(app.delete_source(&source).await, 200);
    let (_, report) = app.upload_drivers(&[("patterns64.sys", x64)]).await;
    assert_eq!(
        report["files"][0]["analysis"]["signature"]["status"], "catalog-signed",
        "{report}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_changed_driver_is_never_its_vendors_without_the_warning() {
    let Some(dir) = corpus_folder("drivers") else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let app = spawn_app(data.path(), Some(TOKEN)).await;
    let changed = with_text_byte_changed(&read(&dir.join("WinDivert64_v1.sys")));
    let (_, report) = app.upload_drivers(&[("WinDivert64_v1.sys", changed)]).await;
    let analysis = &report["files"][0]["analysis"];
    assert_eq!(analysis["signature"]["status"], "hash-mismatch", "{report}");
    // The signer no longer names the vendor; the warning goes wherever the file is shown.
    assert_eq!(analysis["signer"], "Ars Nova Systems");
    // Its version resource names it windivert.sys.
    let (_, driver) = app.get_json("/api/v1/drivers/windivert.sys").await;
    let tags = driver["tags"].as_array().unwrap();
    assert!(!tags.is_empty(), "{driver}");
    for tag in tags {
        assert_eq!(tag["signature"]["status"], "hash-mismatch", "{tag}");
        assert_eq!(
            tag["signature"]["summary"],
            "signed by Ars Nova Systems, but the file was changed after signing"
        );
        assert!(
            tag["signature"]["warning"]
                .as_str()
                .unwrap()
                .contains("changed after")
        );
    }
    let page = app
        .get("/drivers/windivert.sys")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(
            "Warning: WinDivert64_v1.sys: the file was changed after Ars Nova Systems signed it"
        ),
        "{page}"
    );
    // An analysis that blames it says so with the vendor: answer, verdict, suspect, report.
    let snapshot = " Tag  Type     Allocs         Frees    Diff   Bytes    Per Alloc\n\n WDiv Nonp      50000      1000    49000  401408000       8192\n";
    let (status, analysis) = app.analyze(snapshot).await;
    assert_eq!(status, 200, "{analysis}");
    let warning = "the file was changed after Ars Nova Systems signed it";
    let headline = analysis["answer"]["headline"].as_str().unwrap();
    assert!(
        headline.contains(&format!("Warning: windivert.sys: {warning}")),
        "{headline}"
    );
    assert!(
        analysis["verdict"].as_str().unwrap().contains(warning),
        "{analysis}"
    );
    let suspect = &analysis["suspects"][0];
    assert_eq!(suspect["driver"], "windivert.sys");
    assert_eq!(suspect["signature"]["status"], "hash-mismatch");
    let report = suspect["vendor_report"].as_str().unwrap();
    assert!(
        report.contains(&format!("- **Warning**: {warning}")),
        "{report}"
    );
    app.stop().await;
}

#[test]
fn scan_takes_catalogs_and_marks_drivers_scanned_before_them() {
    let dir = tempfile::tempdir().unwrap();
    let (drivers, catroot, data) = (
        dir.path().join("drivers"),
        dir.path().join("CatRoot"),
        dir.path().join("data"),
    );
    std::fs::create_dir_all(&drivers).unwrap();
    std::fs::create_dir_all(&catroot).unwrap();
    let x64 = fixture_driver("patterns_x64_O2.sys");
    std::fs::write(drivers.join("patterns.sys"), &x64).unwrap();
    std::fs::copy(signing_fixture("test.cat"), catroot.join("test.cat")).unwrap();

    let out = scan_folder(&data, &drivers, &[]);
    assert!(out.starts_with("1 drivers: 1 analyzed and stored"), "{out}");
    let out = scan_folder(&data, &catroot, &[]);
    assert!(
        out.contains(
            "1 catalogs: 1 with a valid signature, listing 2 file hashes; 1 drivers stored before are now catalog-signed"
        ),
        "{out}"
    );
    let index = poolsleuth::index::SearchIndex::open(&data).unwrap();
    let stored = index.driver_sources().unwrap();
    let signature = &stored[0].driver.as_ref().unwrap().signature;
    assert_eq!(signature.status, SignatureStatus::CatalogSigned);
    assert_eq!(
        signature.catalog.as_ref().map(|c| c.file_name.as_str()),
        Some("test.cat")
    );
}

#[tokio::test]
async fn a_driver_stored_before_signatures_were_checked_is_checked_when_sent_again() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = read(&signing_fixture("patterns_x64_O2.wdktest.sys"));
    // What an earlier poolsleuth stored: no verdict, no Authenticode hashes.
    let mut old = analysis("patterns.sys", &bytes);
    old.signature = Default::default();
    old.authenticode = None;
    {
        let vendors = std::sync::Arc::new(poolsleuth::vendor::VendorDirectory::embedded());
        let index = poolsleuth::cli::open_index(
            dir.path(),
            vendors.clone(),
            poolsleuth::cli::Writer::Serve,
        )
        .await
        .unwrap();
        poolsleuth::import::store_driver(&index, &vendors, old).unwrap();
    }
    let app = spawn_app(dir.path(), Some(TOKEN)).await;
    let (_, driver) = app.get_json("/api/v1/drivers/patterns.sys").await;
    assert_eq!(
        signature_of(&driver, &sha256_hex(&bytes))["status"],
        "not-checked"
    );
    let (_, report) = app.upload_drivers(&[("patterns.sys", bytes.clone())]).await;
    assert_eq!(report["files"][0]["status"], "stored", "{report}");
    let (_, driver) = app.get_json("/api/v1/drivers/patterns.sys").await;
    assert_eq!(driver["analyses"].as_array().unwrap().len(), 1, "{driver}");
    assert_eq!(
        signature_of(&driver, &sha256_hex(&bytes))["status"],
        "valid"
    );
    app.stop().await;
}
