//! Authenticode: whether a driver file is the one its signer signed, as sigcheck tells it.
//!
//! An embedded signature (a WIN_CERTIFICATE holding PKCS#7 `SignedData`) is checked all the
//! way: the file's Authenticode hash against the digest the signature carries, the signed
//! attributes' digest of that content, the signer's signature over the signed attributes
//! with its certificate's key, and each certificate of the chain with its issuer's key, as
//! far as the certificates in the file go. Nested signatures (a SHA-256 signature inside a
//! SHA-1 one) are checked the same way and the strongest valid one is reported; the
//! timestamp countersignature (RFC 3161, or the legacy PKCS#9 one) gives the signing time.
//!
//! There is no root store here: "valid" means the file is unchanged since the signer named
//! by the certificates signed it, not that Windows would trust that signer. A catalog
//! (`.cat`, see [`catalog`]) vouches for files without embedded signatures.

mod algorithms;
pub mod catalog;
mod image_hash;
mod pkcs7;

use const_oid::ObjectIdentifier;
use const_oid::db::rfc4519::CN;
use der::asn1::{
    AnyRef, BmpString, Ia5StringRef, PrintableStringRef, TeletexStringRef, Utf8StringRef,
};
use der::{Decode, Tag, Tagged};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use x509_cert::Certificate;
use x509_cert::name::Name;

pub use algorithms::DigestAlgorithm;
pub use image_hash::Layout;

use pkcs7::{CertificateRef, Failure, SignedDataRef};

const SPC_INDIRECT_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.311.2.1.4");
const SPC_PE_IMAGE_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.311.2.1.15");
const NESTED_SIGNATURE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.311.2.4.1");
const RFC3161_TIMESTAMP: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.311.3.3.1");
const COUNTERSIGNATURE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.6");
const TST_INFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
const EXTENDED_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
/// The extended key usage of Microsoft's hardware-compatibility (WHQL) signatures.
const WHQL_CRYPTO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.311.10.3.5");
/// The signer of WHQL-signed drivers.
pub const WHQL_SIGNER: &str = "Microsoft Windows Hardware Compatibility Publisher";
/// How deep nested signatures are followed (Windows nests one level).
const MAX_NESTING: usize = 2;
/// How many certificates a chain is followed through.
const MAX_CHAIN: usize = 8;

/// What a file's signature says about it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum SignatureStatus {
    /// The file is unchanged since its signer signed it.
    Valid,
    /// Listed by its Authenticode hash in a catalog whose signature is valid.
    CatalogSigned,
    /// Signed with an algorithm this build does not check (MD5, RSA-PSS): neither good nor bad.
    Unverified,
    /// The signature is sound but the file's hash is not the one signed: the file was changed
    /// after signing.
    HashMismatch,
    /// The signature itself does not check out (unreadable, or not made by its certificate).
    BadSignature,
    /// No embedded signature, and no catalog known here lists the file.
    Unsigned,
    /// Analyzed before poolsleuth checked signatures: not checked.
    NotChecked,
}

/// A certificate above the signer's, as far as the file's certificates go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Issuer {
    /// The issuer's common name (its whole name when it has none).
    pub name: String,
    pub link: LinkCheck,
}

/// Whether the certificate below an issuer is signed by the issuer's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum LinkCheck {
    /// The issuer's certificate is in the file and its key verifies the certificate below.
    Verified,
    /// The file does not carry the issuer's certificate (roots often are left out).
    NotInFile,
    /// Signed with an algorithm this build does not check (MD5 on old roots).
    Unsupported,
}

/// How the signing time is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TimestampKind {
    /// An RFC 3161 time-stamp token (unsigned attribute 1.3.6.1.4.1.311.3.3.1).
    Rfc3161,
    /// A PKCS#9 countersignature (1.2.840.113549.1.9.6), the older form.
    Legacy,
}

/// The catalog that lists a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CatalogRef {
    pub file_name: String,
    /// Lower-case hex SHA-256 of the catalog file.
    pub sha256: String,
}

/// The verdict on a file's signature, with what sigcheck shows beside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SignatureCheck {
    pub status: SignatureStatus,
    /// The signer's common name (for `catalog-signed`, the catalog's signer).
    pub signer: Option<String>,
    /// The issuers above the signer, nearest first.
    pub issuers: Vec<Issuer>,
    pub digest_algorithm: Option<DigestAlgorithm>,
    /// Signed with a WDK test certificate (`WDKTestCert …`): a developer's test signature,
    /// not a vendor's.
    pub wdk_test_certificate: bool,
    /// Microsoft's hardware-compatibility (WHQL) signature: the signer is the Windows Hardware
    /// Compatibility Publisher with its extended key usage, under a Microsoft issuer.
    pub whql: bool,
    /// RFC 3339, from a timestamp countersignature that verifies.
    pub signing_time: Option<String>,
    pub timestamp: Option<TimestampKind>,
    /// For `catalog-signed`: the catalog.
    pub catalog: Option<CatalogRef>,
    /// Why the signature is not valid, or what could not be checked.
    pub problem: Option<String>,
    /// Signatures in the file, nested ones included.
    pub signatures: u32,
    /// The signers of the file's other valid signatures (a vendor's beside Microsoft's).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_signers: Vec<String>,
}

impl Default for SignatureCheck {
    fn default() -> Self {
        Self::with_status(SignatureStatus::NotChecked)
    }
}

impl SignatureCheck {
    fn with_status(status: SignatureStatus) -> Self {
        Self {
            status,
            signer: None,
            issuers: Vec::new(),
            digest_algorithm: None,
            wdk_test_certificate: false,
            whql: false,
            signing_time: None,
            timestamp: None,
            catalog: None,
            problem: None,
            signatures: 0,
            other_signers: Vec::new(),
        }
    }

    pub fn unsigned() -> Self {
        Self::with_status(SignatureStatus::Unsigned)
    }

    /// The signature stands behind the file: valid, or catalog-signed, and not a test
    /// certificate. Only then does the signer name the file's vendor.
    pub fn vouches(&self) -> bool {
        matches!(
            self.status,
            SignatureStatus::Valid | SignatureStatus::CatalogSigned
        ) && !self.wdk_test_certificate
    }

    /// A warning a reader must see beside the driver's vendor, when there is one.
    pub fn warning(&self) -> Option<String> {
        let signer = self.signer.as_deref().unwrap_or("its signer");
        match self.status {
            SignatureStatus::HashMismatch => Some(format!(
                "the file was changed after {signer} signed it: it may not be the vendor's file"
            )),
            SignatureStatus::BadSignature => Some(format!(
                "its signature does not verify ({}): it may not be the vendor's file",
                self.problem.as_deref().unwrap_or("bad signature")
            )),
            SignatureStatus::Valid | SignatureStatus::CatalogSigned
                if self.wdk_test_certificate =>
            {
                Some("signed with a WDK test certificate, not by a vendor".into())
            }
            _ => None,
        }
    }

    /// The one line people read: "signed by X (verified)", "unsigned", ...
    pub fn summary(&self) -> String {
        let signer = self.signer.as_deref().unwrap_or("an unnamed signer");
        let mut text = match self.status {
            SignatureStatus::Valid if self.wdk_test_certificate => {
                format!("WDK test certificate: signed by {signer} (verified), a test signature")
            }
            SignatureStatus::Valid if self.whql => {
                format!("signed by {signer} (verified; Microsoft's WHQL signature)")
            }
            SignatureStatus::Valid => format!("signed by {signer} (verified)"),
            SignatureStatus::CatalogSigned => {
                let by = if self.whql || signer.starts_with("Microsoft") {
                    "Microsoft".to_owned()
                } else {
                    signer.to_owned()
                };
                let test = if self.wdk_test_certificate {
                    ", a WDK test certificate"
                } else {
                    ""
                };
                match &self.catalog {
                    Some(c) => format!("catalog-signed by {by}{test} ({})", c.file_name),
                    None => format!("catalog-signed by {by}{test}"),
                }
            }
            SignatureStatus::Unverified => format!(
                "signed by {signer}, not verified: {}",
                self.problem
                    .as_deref()
                    .unwrap_or("an algorithm this build does not check")
            ),
            SignatureStatus::HashMismatch => {
                format!("signed by {signer}, but the file was changed after signing")
            }
            SignatureStatus::BadSignature => match &self.signer {
                Some(s) => format!(
                    "bad signature (names {s}: {})",
                    self.problem.as_deref().unwrap_or("it does not verify")
                ),
                None => format!(
                    "bad signature ({})",
                    self.problem.as_deref().unwrap_or("it does not verify")
                ),
            },
            SignatureStatus::Unsigned => "unsigned".into(),
            SignatureStatus::NotChecked => match &self.signer {
                Some(s) => format!(
                    "signer {s}, not verified (analyzed before poolsleuth checked signatures)"
                ),
                None => {
                    "signature not checked (analyzed before poolsleuth checked signatures)".into()
                }
            },
        };
        if self.status == SignatureStatus::Valid {
            if let Some(time) = &self.signing_time {
                text.push_str(&format!(", timestamped {time}"));
            }
            if !self.other_signers.is_empty() {
                text.push_str(&format!(
                    "; also signed by {} (verified)",
                    self.other_signers.join(", ")
                ));
            }
        }
        text
    }
}

/// A signature verdict in brief, carried with each attribution of an analyzed file (search
/// hits, the analysis's suspects).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SignatureNote {
    pub status: SignatureStatus,
    pub signer: Option<String>,
    /// "signed by X (verified)", "signed by X, but the file was changed after signing", ...
    pub summary: String,
    /// What a reader must see beside the vendor (a changed file, a bad signature, a WDK test
    /// certificate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

impl SignatureNote {
    /// The page's style class: good, bad, or neither.
    pub fn class(&self) -> &'static str {
        match self.status {
            SignatureStatus::Valid | SignatureStatus::CatalogSigned if self.warning.is_none() => {
                "sig-ok"
            }
            SignatureStatus::HashMismatch | SignatureStatus::BadSignature => "sig-bad",
            _ if self.warning.is_some() => "sig-bad",
            _ => "sig-none",
        }
    }
}

impl SignatureCheck {
    pub fn note(&self) -> SignatureNote {
        SignatureNote {
            status: self.status,
            signer: self.signer.clone(),
            summary: self.summary(),
            warning: self.warning(),
        }
    }

    /// The issuers as one line: "DigiCert EV Code Signing CA (SHA2) ← DigiCert High Assurance
    /// EV Root CA (not in the file)".
    pub fn issuer_chain(&self) -> String {
        self.issuers
            .iter()
            .map(|i| match i.link {
                LinkCheck::Verified => i.name.clone(),
                LinkCheck::NotInFile => format!("{} (not in the file)", i.name),
                LinkCheck::Unsupported => format!("{} (not checked)", i.name),
            })
            .collect::<Vec<_>>()
            .join(" ← ")
    }
}

/// The Authenticode hashes of a file, hex, by which catalogs list it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ImageHashes {
    pub sha1: String,
    pub sha256: String,
}

impl ImageHashes {
    pub fn of(bytes: &[u8], layout: &Layout) -> Self {
        Self {
            sha1: hex(&layout.hash(bytes, DigestAlgorithm::Sha1)),
            sha256: hex(&layout.hash(bytes, DigestAlgorithm::Sha256)),
        }
    }
}

pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// What a file's embedded signatures say.
pub struct Embedded {
    /// The strongest valid signature; without one, the first failure.
    pub check: SignatureCheck,
    /// The signer of the file's first signature (sigcheck's "signer"), valid or not.
    pub first_signer: Option<String>,
}

/// Checks the embedded signatures of a PE file: `certificates` are the PKCS#7 payloads of its
/// WIN_CERTIFICATE entries.
pub fn verify_embedded(bytes: &[u8], layout: &Layout, certificates: &[&[u8]]) -> Embedded {
    if certificates.is_empty() {
        let mut check = SignatureCheck::unsigned();
        if layout.certificate_table.is_some() {
            check.status = SignatureStatus::BadSignature;
            check.problem = Some("the certificate table holds no Authenticode signature".into());
        }
        return Embedded {
            check,
            first_signer: None,
        };
    }
    let mut hashes: Vec<(DigestAlgorithm, Vec<u8>)> = Vec::new();
    let mut image_hash = |algorithm: DigestAlgorithm| -> Vec<u8> {
        if let Some((_, h)) = hashes.iter().find(|(a, _)| *a == algorithm) {
            return h.clone();
        }
        let h = layout.hash(bytes, algorithm);
        hashes.push((algorithm, h.clone()));
        h
    };
    let mut found = Vec::new();
    for payload in certificates {
        check_signature(payload, &mut image_hash, 0, &mut found);
    }
    let first_signer = found.first().and_then(|c| c.signer.clone());
    let best = found
        .iter()
        .enumerate()
        .min_by(|(_, a), (_, b)| {
            a.status
                .cmp(&b.status)
                .then(b.digest_algorithm.cmp(&a.digest_algorithm))
        })
        .map(|(i, _)| i);
    let mut check = match best {
        Some(i) => found[i].clone(),
        None => SignatureCheck::unsigned(),
    };
    check.signatures = found.len() as u32;
    if check.status == SignatureStatus::Valid {
        for other in &found {
            if other.status == SignatureStatus::Valid
                && let Some(name) = &other.signer
                && check.signer.as_ref() != Some(name)
                && !check.other_signers.contains(name)
            {
                check.other_signers.push(name.clone());
            }
        }
    }
    Embedded {
        check,
        first_signer,
    }
}

/// Checks one `SignedData` and its nested signatures, adding a verdict for each to `found`.
fn check_signature(
    payload: &[u8],
    image_hash: &mut dyn FnMut(DigestAlgorithm) -> Vec<u8>,
    depth: usize,
    found: &mut Vec<SignatureCheck>,
) {
    let mut check = SignatureCheck::with_status(SignatureStatus::BadSignature);
    let signed = match SignedDataRef::parse(payload) {
        Ok(signed) => signed,
        Err(failure) => {
            found.push(failed(check, failure));
            return;
        }
    };
    let verdict = check_authenticode(&signed, image_hash, &mut check);
    let nested = signer_info_of(&signed).map(|info| nested_signatures(&info));
    found.push(match verdict {
        Ok(()) => check,
        Err(failure) => failed(check, failure),
    });
    if depth < MAX_NESTING {
        for payload in nested.into_iter().flatten() {
            check_signature(&payload, image_hash, depth + 1, found);
        }
    }
}

fn failed(mut check: SignatureCheck, failure: Failure) -> SignatureCheck {
    let (status, problem) = match failure {
        Failure::Bad(why) => (SignatureStatus::BadSignature, why),
        Failure::Unsupported(why) => (SignatureStatus::Unverified, why),
    };
    check.status = status;
    check.problem = Some(problem);
    check
}

fn signer_info_of(signed: &SignedDataRef<'_>) -> Option<cms::signed_data::SignerInfo> {
    cms::signed_data::SignerInfo::from_der(signed.signer_infos.first()?).ok()
}

/// The nested signatures a SignerInfo carries (each a `ContentInfo`, DER).
fn nested_signatures(info: &cms::signed_data::SignerInfo) -> Vec<Vec<u8>> {
    info.unsigned_attrs
        .iter()
        .flat_map(|attrs| attrs.iter())
        .filter(|a| a.oid == NESTED_SIGNATURE)
        .flat_map(|a| a.values.iter())
        .filter_map(pkcs7::value_der)
        .collect()
}

/// The checks of one Authenticode signature, filling `check` as they go (the signer is named
/// even when a later check fails).
fn check_authenticode(
    signed: &SignedDataRef<'_>,
    image_hash: &mut dyn FnMut(DigestAlgorithm) -> Vec<u8>,
    check: &mut SignatureCheck,
) -> Result<(), Failure> {
    if signed.content_type != SPC_INDIRECT_DATA {
        return Err(Failure::Bad(
            "the signature is not an Authenticode signature (no SpcIndirectDataContent)".into(),
        ));
    }
    let content = signed
        .content
        .ok_or_else(|| Failure::Bad("the signature carries no signed content".into()))?;
    let (algorithm, signed_hash) = indirect_data_digest(&content, Some(SPC_PE_IMAGE_DATA))?;
    check.digest_algorithm = Some(algorithm);
    let signer = verify_signer(signed, content.value(), check)?;
    if image_hash(algorithm) != signed_hash {
        check.status = SignatureStatus::HashMismatch;
        check.problem = Some(format!(
            "the file's {} Authenticode hash is not the one signed",
            algorithm.name()
        ));
        return Ok(());
    }
    read_timestamp(signed, &signer, check);
    check.status = SignatureStatus::Valid;
    Ok(())
}

/// Checks the (first) signer of `signed` over `content` and its chain, naming the signer in
/// `check` first. A chain link whose issuer's key does not verify it is a bad signature.
fn verify_signer(
    signed: &SignedDataRef<'_>,
    content: &[u8],
    check: &mut SignatureCheck,
) -> Result<pkcs7::SignerCheck, Failure> {
    let raw = signed
        .signer_infos
        .first()
        .ok_or_else(|| Failure::Bad("the signature has no SignerInfo".into()))?;
    // Name the signer before the checks, so a failure still says whose signature it claims.
    if let Ok(info) = cms::signed_data::SignerInfo::from_der(raw)
        && let Some(i) = pkcs7::find_signer(&info.sid, &signed.certificates)
    {
        describe_signer(&signed.certificates[i].certificate, check);
    }
    let signer = pkcs7::check_signer(raw, &signed.certificates, content)?;
    let certificate = &signed.certificates[signer.certificate].certificate;
    describe_signer(certificate, check);
    check.issuers = follow_chain(&signed.certificates, signer.certificate)?;
    check.wdk_test_certificate = check
        .signer
        .iter()
        .chain(check.issuers.iter().map(|i| &i.name))
        .any(|n| n.starts_with("WDKTestCert"));
    check.whql = check.signer.as_deref() == Some(WHQL_SIGNER)
        && has_whql_usage(certificate)
        && check
            .issuers
            .first()
            .is_some_and(|i| i.name.starts_with("Microsoft "));
    Ok(signer)
}

fn describe_signer(certificate: &Certificate, check: &mut SignatureCheck) {
    check.signer = Some(display_name(&certificate.tbs_certificate.subject));
}

/// A certificate name as people read it: its common name, else the whole name.
pub fn display_name(name: &Name) -> String {
    common_name(name).unwrap_or_else(|| name.to_string())
}

/// The last CN in the subject (the most specific one), decoded from any string type.
fn common_name(name: &Name) -> Option<String> {
    let mut found = None;
    for rdn in name.0.iter() {
        for atv in rdn.0.iter() {
            if atv.oid != CN {
                continue;
            }
            let v = &atv.value;
            let s = v
                .decode_as::<Utf8StringRef<'_>>()
                .map(|s| s.as_str().to_owned())
                .or_else(|_| {
                    v.decode_as::<PrintableStringRef<'_>>()
                        .map(|s| s.as_str().to_owned())
                })
                .or_else(|_| {
                    v.decode_as::<Ia5StringRef<'_>>()
                        .map(|s| s.as_str().to_owned())
                })
                .or_else(|_| {
                    v.decode_as::<TeletexStringRef<'_>>()
                        .map(|s| s.as_str().to_owned())
                })
                .or_else(|_| v.decode_as::<BmpString>().map(|s| s.to_string()));
            if let Ok(s) = s {
                found = Some(s);
            }
        }
    }
    found
}

fn has_whql_usage(certificate: &Certificate) -> bool {
    certificate
        .tbs_certificate
        .extensions
        .iter()
        .flatten()
        .filter(|e| e.extn_id == EXTENDED_KEY_USAGE)
        .any(|e| {
            x509_cert::ext::pkix::ExtendedKeyUsage::from_der(e.extn_value.as_bytes())
                .is_ok_and(|usage| usage.0.contains(&WHQL_CRYPTO))
        })
}

/// The issuers above certificate `start`, each link checked with the issuer's key where the
/// issuer's certificate is in the file.
fn follow_chain(certificates: &[CertificateRef<'_>], start: usize) -> Result<Vec<Issuer>, Failure> {
    let mut issuers = Vec::new();
    let mut seen = vec![start];
    let mut current = start;
    for _ in 0..MAX_CHAIN {
        let cert = &certificates[current];
        let tbs = &cert.certificate.tbs_certificate;
        if tbs.issuer == tbs.subject {
            break;
        }
        let name = display_name(&tbs.issuer);
        let candidates: Vec<usize> = (0..certificates.len())
            .filter(|&i| {
                i != current && certificates[i].certificate.tbs_certificate.subject == tbs.issuer
            })
            .collect();
        if candidates.is_empty() {
            issuers.push(Issuer {
                name,
                link: LinkCheck::NotInFile,
            });
            break;
        }
        let mut outcome = None;
        for &i in &candidates {
            match check_link(cert, &certificates[i]) {
                Ok(()) => {
                    outcome = Some(Ok(i));
                    break;
                }
                Err(e) => {
                    if outcome.is_none() || matches!(e, Failure::Unsupported(_)) {
                        outcome = Some(Err((i, e)));
                    }
                }
            }
        }
        match outcome {
            Some(Ok(i)) => {
                issuers.push(Issuer {
                    name,
                    link: LinkCheck::Verified,
                });
                if seen.contains(&i) {
                    break;
                }
                seen.push(i);
                current = i;
            }
            Some(Err((_, Failure::Unsupported(_)))) => {
                issuers.push(Issuer {
                    name,
                    link: LinkCheck::Unsupported,
                });
                break;
            }
            Some(Err((_, Failure::Bad(why)))) => {
                return Err(Failure::Bad(format!(
                    "the certificate of {} is not signed by its issuer {name}: {why}",
                    display_name(&tbs.subject)
                )));
            }
            None => break,
        }
    }
    Ok(issuers)
}

/// Chain links already checked in this process, by the digest of the certificate and its
/// issuer's key: the drivers of one machine share a few CA certificates (Microsoft's, a few
/// commercial CAs'), and an RSA check is most of a signature's cost. The answer depends on
/// those bytes alone, so a remembered one is the same answer.
static CHECKED_LINKS: std::sync::Mutex<Option<std::collections::HashMap<Vec<u8>, bool>>> =
    std::sync::Mutex::new(None);
/// More links than a machine's drivers have; past it the memory starts over.
const MAX_CHECKED_LINKS: usize = 4_096;

/// Whether `issuer`'s key verifies `cert`'s signature (remembered; see [`CHECKED_LINKS`]).
fn check_link(cert: &CertificateRef<'_>, issuer: &CertificateRef<'_>) -> Result<(), Failure> {
    let issuer_key = issuer
        .certificate
        .tbs_certificate
        .subject_public_key_info
        .subject_public_key
        .raw_bytes();
    let signature = cert.certificate.signature.raw_bytes();
    let key = DigestAlgorithm::Sha256.digest_parts(&[cert.tbs, signature, issuer_key]);
    let remembered = CHECKED_LINKS
        .lock()
        .ok()
        .and_then(|links| links.as_ref().and_then(|l| l.get(&key).copied()));
    if let Some(verified) = remembered {
        return if verified {
            Ok(())
        } else {
            Err(Failure::Bad(
                algorithms::KeyCheckError::Mismatch.to_string(),
            ))
        };
    }
    let outcome = check_link_now(cert, issuer);
    let verdict = match &outcome {
        Ok(()) => Some(true),
        Err(Failure::Bad(_)) => Some(false),
        Err(Failure::Unsupported(_)) => None,
    };
    if let (Some(verified), Ok(mut links)) = (verdict, CHECKED_LINKS.lock()) {
        let links = links.get_or_insert_with(Default::default);
        if links.len() >= MAX_CHECKED_LINKS {
            links.clear();
        }
        links.insert(key, verified);
    }
    outcome
}

fn check_link_now(cert: &CertificateRef<'_>, issuer: &CertificateRef<'_>) -> Result<(), Failure> {
    let digest = algorithms::signature_digest(&cert.certificate.signature_algorithm)?
        .ok_or_else(|| Failure::Unsupported("a certificate signature without a digest".into()))?;
    let key = &issuer.certificate.tbs_certificate.subject_public_key_info;
    let signature = cert
        .certificate
        .signature
        .as_bytes()
        .ok_or_else(|| Failure::Bad("a certificate signature with unused bits".into()))?;
    match algorithms::verify(key, digest, cert.tbs, signature) {
        Ok(()) => Ok(()),
        Err(algorithms::KeyCheckError::Unsupported(u)) => Err(u.into()),
        Err(e) => Err(Failure::Bad(e.to_string())),
    }
}

/// The digest an `SpcIndirectDataContent` carries, and its algorithm; `kind` is the data type
/// it must describe (a PE image), when one is required.
fn indirect_data_digest(
    content: &AnyRef<'_>,
    kind: Option<ObjectIdentifier>,
) -> Result<(DigestAlgorithm, Vec<u8>), Failure> {
    let unreadable =
        |e: der::Error| Failure::Bad(format!("the signed content is unreadable ({e})"));
    let items = pkcs7::elements(content.value()).map_err(unreadable)?;
    let [(data, _), (digest_info, _), ..] = items.as_slice() else {
        return Err(Failure::Bad("the signed content is incomplete".into()));
    };
    if let Some(kind) = kind {
        let data_type = pkcs7::elements(data.value())
            .map_err(unreadable)?
            .first()
            .and_then(|(oid, _)| oid.decode_as::<ObjectIdentifier>().ok());
        if data_type != Some(kind) {
            return Err(Failure::Bad(
                "the signature does not describe a PE image".into(),
            ));
        }
    }
    let digest_items = pkcs7::elements(digest_info.value()).map_err(unreadable)?;
    let [(algorithm, _), (digest, _), ..] = digest_items.as_slice() else {
        return Err(Failure::Bad("the signed digest is incomplete".into()));
    };
    let oid = pkcs7::elements(algorithm.value())
        .map_err(unreadable)?
        .first()
        .and_then(|(oid, _)| oid.decode_as::<ObjectIdentifier>().ok())
        .ok_or_else(|| Failure::Bad("the signed digest names no algorithm".into()))?;
    if digest.tag() != Tag::OctetString {
        return Err(Failure::Bad(
            "the signed digest is not an octet string".into(),
        ));
    }
    Ok((DigestAlgorithm::from_oid(&oid)?, digest.value().to_vec()))
}

/// The signing time from the signer's timestamp countersignature, when one verifies.
fn read_timestamp(
    signed: &SignedDataRef<'_>,
    signer: &pkcs7::SignerCheck,
    check: &mut SignatureCheck,
) {
    let unsigned = signer.info.unsigned_attrs.as_ref();
    if let Some(token) = pkcs7::attribute(unsigned, RFC3161_TIMESTAMP).and_then(pkcs7::value_der) {
        match rfc3161_time(&token, &signer.signature) {
            Ok(time) => {
                check.signing_time = Some(time);
                check.timestamp = Some(TimestampKind::Rfc3161);
            }
            Err(why) => check.problem = Some(format!("the timestamp does not verify: {why}")),
        }
    } else if let Some(counter) =
        pkcs7::attribute(unsigned, COUNTERSIGNATURE).and_then(pkcs7::value_der)
    {
        match legacy_time(&counter, &signed.certificates, &signer.signature) {
            Ok(time) => {
                check.signing_time = Some(time);
                check.timestamp = Some(TimestampKind::Legacy);
            }
            Err(why) => check.problem = Some(format!("the timestamp does not verify: {why}")),
        }
    }
}

fn failure_text(failure: Failure) -> String {
    match failure {
        Failure::Bad(why) | Failure::Unsupported(why) => why,
    }
}

/// An RFC 3161 token over `signature`: its signer verified over the `TSTInfo`, the token's
/// message imprint the digest of `signature`; its `genTime`.
fn rfc3161_time(token: &[u8], signature: &[u8]) -> Result<String, String> {
    let signed = SignedDataRef::parse(token).map_err(failure_text)?;
    if signed.content_type != TST_INFO {
        return Err("the token holds no TSTInfo".into());
    }
    let content = signed.content.ok_or("the token is empty")?;
    let raw = signed
        .signer_infos
        .first()
        .ok_or("the token has no signer")?;
    pkcs7::check_signer(raw, &signed.certificates, content.value()).map_err(failure_text)?;
    let tst = AnyRef::from_der(content.value()).map_err(|e| e.to_string())?;
    let items = pkcs7::elements(tst.value()).map_err(|e| e.to_string())?;
    // version, policy, messageImprint, serialNumber, genTime
    let [_, _, (imprint, _), _, (time, _), ..] = items.as_slice() else {
        return Err("the TSTInfo is incomplete".into());
    };
    let (algorithm, hashed) = {
        let parts = pkcs7::elements(imprint.value()).map_err(|e| e.to_string())?;
        let [(algorithm, _), (hashed, _), ..] = parts.as_slice() else {
            return Err("the message imprint is incomplete".into());
        };
        let oid = pkcs7::elements(algorithm.value())
            .map_err(|e| e.to_string())?
            .first()
            .and_then(|(oid, _)| oid.decode_as::<ObjectIdentifier>().ok())
            .ok_or("the message imprint names no algorithm")?;
        (
            DigestAlgorithm::from_oid(&oid).map_err(|u| u.0)?,
            hashed.value(),
        )
    };
    if algorithm.digest(signature) != hashed {
        return Err("the token does not countersign this signature".into());
    }
    pkcs7::time_text(time).ok_or_else(|| "the token's time is unreadable".into())
}

/// A PKCS#9 countersignature over `signature`, made by one of `certificates`: its
/// `signingTime`.
fn legacy_time(
    counter: &[u8],
    certificates: &[CertificateRef<'_>],
    signature: &[u8],
) -> Result<String, String> {
    let checked = pkcs7::check_signer(counter, certificates, signature).map_err(failure_text)?;
    let time = pkcs7::attribute(checked.info.signed_attrs.as_ref(), pkcs7::SIGNING_TIME)
        .ok_or("the countersignature has no signing time")?;
    pkcs7::time_text(&AnyRef::from(time)).ok_or_else(|| "the signing time is unreadable".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_a_bad_signature_not_a_panic() {
        let mut image = vec![0u8; 0x200];
        image[0x3c] = 0x40;
        image[0x40..0x44].copy_from_slice(b"PE\0\0");
        let layout = Layout::of(&image).unwrap();
        for payload in [
            &[][..],
            &[0x30, 0x82, 0xff, 0xff, 0][..],
            &[0x30, 0x03, 0x06, 0x01, 0x00][..],
        ] {
            let check = verify_embedded(&image, &layout, &[payload]).check;
            assert_eq!(check.status, SignatureStatus::BadSignature, "{payload:?}");
            assert!(check.problem.is_some());
        }
        assert_eq!(
            verify_embedded(&image, &layout, &[]).check.status,
            SignatureStatus::Unsigned
        );
    }

    #[test]
    fn summaries_say_what_sigcheck_says() {
        let mut check = SignatureCheck::with_status(SignatureStatus::Valid);
        check.signer = Some("Contoso Ltd.".into());
        assert_eq!(check.summary(), "signed by Contoso Ltd. (verified)");
        check.status = SignatureStatus::HashMismatch;
        assert_eq!(
            check.summary(),
            "signed by Contoso Ltd., but the file was changed after signing"
        );
        assert!(check.warning().is_some() && !check.vouches());
        check.status = SignatureStatus::CatalogSigned;
        check.signer = Some("Microsoft Windows".into());
        assert_eq!(check.summary(), "catalog-signed by Microsoft");
        assert!(check.vouches());
        assert_eq!(SignatureCheck::unsigned().summary(), "unsigned");
    }
}
