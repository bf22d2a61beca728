//! PKCS#7 `SignedData` as Authenticode and catalogs use it: the structure is walked over the
//! original DER, so the bytes a signature covers (the content, the signed attributes, each
//! certificate's `TBSCertificate`) are the file's own, not a re-encoding of what was decoded;
//! the typed parts come from RustCrypto's `cms` and `x509-cert`.

use cms::signed_data::{SignerIdentifier, SignerInfo};
use const_oid::ObjectIdentifier;
use const_oid::db::rfc5280::ID_CE_SUBJECT_KEY_IDENTIFIER;
use der::asn1::{AnyRef, OctetString};
use der::{Decode, Encode, Reader, SliceReader, Tag, TagNumber, Tagged};
use x509_cert::Certificate;
use x509_cert::attr::Attribute;

use super::algorithms::{self, DigestAlgorithm, KeyCheckError, Unsupported};

pub const SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
pub const SIGNING_TIME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.5");

/// A `SignedData` read from DER, borrowing the bytes signatures cover.
pub struct SignedDataRef<'a> {
    pub content_type: ObjectIdentifier,
    /// The encapsulated content (`[0] EXPLICIT`): a SEQUENCE in PKCS#7 style (Authenticode,
    /// catalogs), an OCTET STRING in CMS style (time-stamp tokens).
    pub content: Option<AnyRef<'a>>,
    pub certificates: Vec<CertificateRef<'a>>,
    /// Each `SignerInfo`, as its DER.
    pub signer_infos: Vec<&'a [u8]>,
}

/// A certificate with the DER of its `TBSCertificate` (what its issuer signed).
pub struct CertificateRef<'a> {
    pub tbs: &'a [u8],
    pub certificate: Certificate,
}

/// A failure to read or check a signature, in words for the person who uploaded the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The structure cannot be read, or a check failed: the signature is bad.
    Bad(String),
    /// An algorithm this build does not check.
    Unsupported(String),
}

impl From<Unsupported> for Failure {
    fn from(u: Unsupported) -> Self {
        Self::Unsupported(format!("{} is not supported", u.0))
    }
}

fn bad(what: impl std::fmt::Display) -> Failure {
    Failure::Bad(what.to_string())
}

/// The elements of a constructed value, each with its own DER.
pub fn elements(value: &[u8]) -> der::Result<Vec<(AnyRef<'_>, &[u8])>> {
    let mut reader = SliceReader::new(value)?;
    let mut out = Vec::new();
    while !reader.is_finished() {
        let tlv = reader.tlv_bytes()?;
        out.push((AnyRef::from_der(tlv)?, tlv));
    }
    Ok(out)
}

/// The first DER element of `bytes` (WIN_CERTIFICATE payloads carry zero padding after it).
pub fn first_element(bytes: &[u8]) -> der::Result<&[u8]> {
    SliceReader::new(bytes)?.tlv_bytes()
}

fn is_context(any: &AnyRef<'_>, number: u8, constructed: bool) -> bool {
    any.tag()
        == Tag::ContextSpecific {
            constructed,
            number: TagNumber::new(number),
        }
}

impl<'a> SignedDataRef<'a> {
    /// Reads a `ContentInfo` holding `SignedData`.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, Failure> {
        let unreadable = |e: der::Error| bad(format!("not a PKCS#7 signature ({e})"));
        let outer =
            AnyRef::from_der(first_element(bytes).map_err(unreadable)?).map_err(unreadable)?;
        if outer.tag() != Tag::Sequence {
            return Err(bad("not a PKCS#7 signature (no ContentInfo)"));
        }
        let info = elements(outer.value()).map_err(unreadable)?;
        let [(kind, _), (explicit, _), ..] = info.as_slice() else {
            return Err(bad("the ContentInfo is incomplete"));
        };
        if kind.decode_as::<ObjectIdentifier>().ok() != Some(SIGNED_DATA) {
            return Err(bad("the ContentInfo does not hold SignedData"));
        }
        let signed = AnyRef::from_der(explicit.value()).map_err(unreadable)?;
        let items = elements(signed.value()).map_err(unreadable)?;
        // version, digestAlgorithms, encapContentInfo, [0] certificates, [1] crls, signerInfos
        let mut rest = items.iter().skip(2);
        let (encap, _) = rest
            .next()
            .ok_or_else(|| bad("SignedData without content"))?;
        let encap = elements(encap.value()).map_err(unreadable)?;
        let content_type = encap
            .first()
            .and_then(|(oid, _)| oid.decode_as::<ObjectIdentifier>().ok())
            .ok_or_else(|| bad("SignedData without a content type"))?;
        let content = match encap.get(1) {
            Some((explicit, _)) if is_context(explicit, 0, true) => {
                Some(AnyRef::from_der(explicit.value()).map_err(unreadable)?)
            }
            _ => None,
        };
        let mut certificates = Vec::new();
        let mut signer_infos = Vec::new();
        for (item, _) in rest {
            if is_context(item, 0, true) {
                for (cert, tlv) in elements(item.value()).map_err(unreadable)? {
                    // Attribute certificates and other choices are not X.509 certificates.
                    if cert.tag() != Tag::Sequence {
                        continue;
                    }
                    let certificate = Certificate::from_der(tlv)
                        .map_err(|e| bad(format!("a certificate is unreadable ({e})")))?;
                    let tbs = elements(cert.value())
                        .map_err(unreadable)?
                        .first()
                        .map(|(_, tbs)| *tbs)
                        .ok_or_else(|| bad("an empty certificate"))?;
                    certificates.push(CertificateRef { tbs, certificate });
                }
            } else if item.tag() == Tag::Set {
                signer_infos = elements(item.value())
                    .map_err(unreadable)?
                    .into_iter()
                    .map(|(_, tlv)| tlv)
                    .collect();
            }
        }
        Ok(Self {
            content_type,
            content,
            certificates,
            signer_infos,
        })
    }
}

/// What a verified `SignerInfo` tells.
pub struct SignerCheck {
    /// Index of the signer's certificate.
    pub certificate: usize,
    /// The signature value (what a timestamp countersigns).
    pub signature: Vec<u8>,
    pub info: SignerInfo,
}

/// The certificate a `SignerInfo` names.
pub fn find_signer(sid: &SignerIdentifier, certificates: &[CertificateRef<'_>]) -> Option<usize> {
    certificates.iter().position(|c| {
        let tbs = &c.certificate.tbs_certificate;
        match sid {
            SignerIdentifier::IssuerAndSerialNumber(i) => {
                i.issuer == tbs.issuer && i.serial_number == tbs.serial_number
            }
            SignerIdentifier::SubjectKeyIdentifier(ski) => tbs
                .extensions
                .iter()
                .flatten()
                .filter(|e| e.extn_id == ID_CE_SUBJECT_KEY_IDENTIFIER)
                .any(|e| {
                    OctetString::from_der(e.extn_value.as_bytes())
                        .is_ok_and(|v| v.as_bytes() == ski.0.as_bytes())
                }),
        }
    })
}

/// The first value of attribute `oid`.
pub fn attribute(
    attributes: Option<&der::asn1::SetOfVec<Attribute>>,
    oid: ObjectIdentifier,
) -> Option<&der::Any> {
    attributes?
        .iter()
        .find(|a| a.oid == oid)
        .and_then(|a| a.values.iter().next())
}

/// Checks one `SignerInfo` (DER) over `content` (the bytes its `messageDigest` covers): the
/// signed attributes' digest of the content, then the signature over the signed attributes
/// with the signer certificate's key.
pub fn check_signer(
    raw: &[u8],
    certificates: &[CertificateRef<'_>],
    content: &[u8],
) -> Result<SignerCheck, Failure> {
    let info = SignerInfo::from_der(raw)
        .map_err(|e| bad(format!("the SignerInfo is unreadable ({e})")))?;
    let digest = DigestAlgorithm::from_oid(&info.digest_alg.oid)?;
    let certificate = find_signer(&info.sid, certificates)
        .ok_or_else(|| bad("the signer's certificate is not in the signature"))?;
    // The signed attributes as signed: their own DER with the SET tag in place of [0].
    let signed_attributes = elements(AnyRef::from_der(raw).map_err(bad)?.value())
        .map_err(bad)?
        .into_iter()
        .find(|(item, _)| is_context(item, 0, true))
        .map(|(_, tlv)| {
            let mut message = tlv.to_vec();
            message[0] = 0x31;
            message
        });
    let message = match signed_attributes {
        Some(message) => {
            let claimed = attribute(info.signed_attrs.as_ref(), MESSAGE_DIGEST)
                .and_then(|v| v.decode_as::<OctetString>().ok())
                .ok_or_else(|| bad("the signed attributes hold no message digest"))?;
            if claimed.as_bytes() != digest.digest(content).as_slice() {
                return Err(bad("the signed content does not match its message digest"));
            }
            message
        }
        None => content.to_vec(),
    };
    let scheme = algorithms::signature_digest(&info.signature_algorithm)?.unwrap_or(digest);
    let key = &certificates[certificate]
        .certificate
        .tbs_certificate
        .subject_public_key_info;
    match algorithms::verify(key, scheme, &message, info.signature.as_bytes()) {
        Ok(()) => {}
        Err(KeyCheckError::Mismatch) => {
            return Err(bad(
                "the signature does not verify with the signer's certificate",
            ));
        }
        Err(KeyCheckError::Unreadable(why)) => return Err(bad(why)),
        Err(KeyCheckError::Unsupported(u)) => return Err(u.into()),
    }
    Ok(SignerCheck {
        certificate,

        signature: info.signature.as_bytes().to_vec(),
        info,
    })
}

/// The DER of an attribute value (a nested signature, a countersignature).
pub fn value_der(value: &der::Any) -> Option<Vec<u8>> {
    value.to_der().ok()
}

/// A DER `UTCTime` or `GeneralizedTime` (fractions of a second allowed, as time-stamp
/// authorities write them) as RFC 3339, to the second, UTC.
pub fn time_text(any: &AnyRef<'_>) -> Option<String> {
    let text = std::str::from_utf8(any.value()).ok()?;
    let digits = |s: &str| s.len() >= 2 && s.bytes().all(|b| b.is_ascii_digit());
    let (year, rest) = match any.tag() {
        Tag::UtcTime => {
            let yy: u32 = text.get(..2).filter(|s| digits(s))?.parse().ok()?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, text.get(2..)?)
        }
        Tag::GeneralizedTime => (
            text.get(..4).filter(|s| digits(s))?.parse().ok()?,
            text.get(4..)?,
        ),
        _ => return None,
    };
    let field =
        |i: usize| -> Option<u32> { rest.get(i..i + 2).filter(|s| digits(s))?.parse().ok() };
    let (month, day, hour, minute, second) =
        (field(0)?, field(2)?, field(4)?, field(6)?, field(8)?);
    let valid = (1..=12).contains(&month)
        && (1..=31).contains(&day)
        && hour < 24
        && minute < 60
        && second < 61
        && rest.ends_with('Z');
    valid.then(|| format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_authorities_write_them() {
        let generalized = AnyRef::new(Tag::GeneralizedTime, b"20260611233547.123Z").unwrap();
        assert_eq!(
            time_text(&generalized).as_deref(),
            Some("2026-06-11T23:35:47Z")
        );
        let utc = AnyRef::new(Tag::UtcTime, b"080726133031Z").unwrap();
        assert_eq!(time_text(&utc).as_deref(), Some("2008-07-26T13:30:31Z"));
        let local = AnyRef::new(Tag::UtcTime, b"080726133031+0200").unwrap();
        assert_eq!(time_text(&local), None);
    }
}
