//! Catalog files (`.cat`): a PKCS#7 `SignedData` whose content is a certificate trust list
//! (szOID_CTL, 1.3.6.1.4.1.311.10.1) of member files, each listed by its Authenticode hash
//! in an `SpcIndirectDataContent` attribute. Windows' own drivers carry no embedded signature:
//! the catalogs under `System32\CatRoot` vouch for them. A catalog's signature is checked as an
//! embedded one is (signer, chain, timestamp).

use const_oid::ObjectIdentifier;
use der::asn1::AnyRef;
use der::{Tag, Tagged};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::pkcs7::{self, SignedDataRef};
use super::{
    SPC_INDIRECT_DATA, SignatureCheck, SignatureStatus, failed, hex, indirect_data_digest,
    read_timestamp, verify_signer,
};

/// szOID_CTL: the content type of a catalog.
const CERTIFICATE_TRUST_LIST: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.311.10.1");
/// Most members read from one catalog (Windows' largest list a few thousand files).
const MAX_MEMBERS: usize = 1_000_000;

/// A catalog: who signed it and which files it lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Catalog {
    pub file_name: String,
    /// Lower-case hex SHA-256 of the catalog file.
    pub sha256: String,
    /// The catalog's own signature (`valid` when it verifies).
    pub signature: SignatureCheck,
    /// The Authenticode hashes (SHA-1 or SHA-256, lower-case hex) of the files it lists.
    pub members: Vec<String>,
}

/// Why a file is not a catalog that can be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    #[error("not a catalog file: {0}")]
    NotCatalog(String),
    #[error("the catalog's list of files is unreadable: {0}")]
    Damaged(String),
}

/// Whether `bytes` start like a catalog (a PKCS#7 `SignedData` of a trust list), cheaply: an
/// upload that is one goes to the catalogs, not to driver analysis.
pub fn is_catalog(bytes: &[u8]) -> bool {
    bytes.first() == Some(&0x30)
        && SignedDataRef::parse(bytes).is_ok_and(|s| s.content_type == CERTIFICATE_TRUST_LIST)
}

/// Reads a catalog and checks its signature. A catalog whose signature does not verify is
/// still read (its `signature` says why), but vouches for nothing.
pub fn read(file_name: &str, bytes: &[u8], sha256: String) -> Result<Catalog, CatalogError> {
    let signed = SignedDataRef::parse(bytes).map_err(|f| {
        CatalogError::NotCatalog(match f {
            pkcs7::Failure::Bad(why) | pkcs7::Failure::Unsupported(why) => why,
        })
    })?;
    if signed.content_type != CERTIFICATE_TRUST_LIST {
        return Err(CatalogError::NotCatalog(
            "a PKCS#7 signature, but its content is not a certificate trust list".into(),
        ));
    }
    let content = signed
        .content
        .ok_or_else(|| CatalogError::Damaged("the catalog holds no list".into()))?;
    // PKCS#7 style: the list itself; CMS style: the list's DER in an OCTET STRING.
    let list = if content.tag() == Tag::OctetString {
        AnyRef::try_from(content.value()).map_err(|e| CatalogError::Damaged(e.to_string()))?
    } else {
        content
    };
    let members = members(&list).map_err(CatalogError::Damaged)?;
    let mut check = SignatureCheck::with_status(SignatureStatus::BadSignature);
    let signature = match verify_signer(&signed, content.value(), &mut check) {
        Ok(signer) => {
            read_timestamp(&signed, &signer, &mut check);
            check.status = SignatureStatus::Valid;
            check.signatures = 1;
            check
        }
        Err(failure) => failed(check, failure),
    };
    Ok(Catalog {
        file_name: file_name.to_owned(),
        sha256,
        signature,
        members,
    })
}

/// The Authenticode hashes a certificate trust list names.
fn members(list: &AnyRef<'_>) -> Result<Vec<String>, String> {
    let items = pkcs7::elements(list.value()).map_err(|e| e.to_string())?;
    // version?, subjectUsage, listIdentifier?, sequenceNumber?, thisUpdate, nextUpdate?,
    // subjectAlgorithm, trustedSubjects?, [0] extensions?: the subjects are the second
    // SEQUENCE after the first time.
    let first_time = items
        .iter()
        .position(|(i, _)| matches!(i.tag(), Tag::UtcTime | Tag::GeneralizedTime))
        .ok_or("the list has no date")?;
    let Some((subjects, _)) = items[first_time + 1..]
        .iter()
        .filter(|(i, _)| i.tag() == Tag::Sequence)
        .nth(1)
    else {
        return Ok(Vec::new());
    };
    let mut hashes = Vec::new();
    for (subject, _) in pkcs7::elements(subjects.value()).map_err(|e| e.to_string())? {
        if hashes.len() >= MAX_MEMBERS {
            break;
        }
        let parts = pkcs7::elements(subject.value()).map_err(|e| e.to_string())?;
        let before = hashes.len();
        if let Some((attributes, _)) = parts.iter().find(|(p, _)| p.tag() == Tag::Set) {
            for (attribute, _) in pkcs7::elements(attributes.value()).map_err(|e| e.to_string())? {
                let fields = pkcs7::elements(attribute.value()).map_err(|e| e.to_string())?;
                let [(oid, _), (values, _), ..] = fields.as_slice() else {
                    continue;
                };
                if oid.decode_as::<ObjectIdentifier>().ok() != Some(SPC_INDIRECT_DATA) {
                    continue;
                }
                for (value, _) in pkcs7::elements(values.value()).map_err(|e| e.to_string())? {
                    if let Ok((_, digest)) = indirect_data_digest(&value, None) {
                        hashes.push(hex(&digest));
                    }
                }
            }
        }
        // A member without indirect data is named by its hash in its identifier (the hex
        // digits as UTF-16 text), as older catalogs do.
        if hashes.len() == before
            && let Some((identifier, _)) = parts.first()
            && identifier.tag() == Tag::OctetString
            && let Some(hash) = hex_identifier(identifier.value())
        {
            hashes.push(hash);
        }
    }
    hashes.sort_unstable();
    hashes.dedup();
    Ok(hashes)
}

/// A member identifier that is a SHA-1 or SHA-256 hash written as hex digits in UTF-16LE.
fn hex_identifier(bytes: &[u8]) -> Option<String> {
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    let text: String = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .take_while(|&u| u != 0)
        .map(|u| char::from_u32(u32::from(u)).unwrap_or('\u{fffd}'))
        .collect();
    (matches!(text.len(), 40 | 64) && text.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| text.to_ascii_lowercase())
}
