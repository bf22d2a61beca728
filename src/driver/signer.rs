//! Authenticode signer: WIN_CERTIFICATE (goblin) -> PKCS#7 `SignedData` (RustCrypto `cms`) ->
//! the certificate named by the `SignerInfo`'s issuer and serial (or subject key identifier) ->
//! its subject common name.

use cms::cert::CertificateChoices;
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier};
use const_oid::db::rfc4519::CN;
use const_oid::db::rfc5280::ID_CE_SUBJECT_KEY_IDENTIFIER;
use der::asn1::{
    BmpString, Ia5StringRef, OctetString, PrintableStringRef, TeletexStringRef, Utf8StringRef,
};
use der::{Decode, SliceReader};
use x509_cert::Certificate;
use x509_cert::name::Name;

/// The signer CN of the first WIN_CERTIFICATE that holds a readable signature.
pub(crate) fn signer_cn(certificates: &[&[u8]], warnings: &mut Vec<String>) -> Option<String> {
    for (i, payload) in certificates.iter().enumerate() {
        match signer_of(payload) {
            Ok(cn) => return Some(cn),
            Err(e) => warnings.push(format!("Authenticode signature #{i} unreadable: {e}")),
        }
    }
    None
}

fn signer_of(payload: &[u8]) -> Result<String, String> {
    // The payload may carry zero padding after the DER: decode through a reader, not from_der.
    let mut reader = SliceReader::new(payload).map_err(|e| format!("bad length: {e}"))?;
    let ci =
        ContentInfo::decode(&mut reader).map_err(|e| format!("not a PKCS#7 ContentInfo: {e}"))?;
    let sd: SignedData = ci
        .content
        .decode_as()
        .map_err(|e| format!("not a PKCS#7 SignedData: {e}"))?;
    let si = sd
        .signer_infos
        .0
        .iter()
        .next()
        .ok_or("the signature has no SignerInfo")?;
    let certs = sd
        .certificates
        .as_ref()
        .ok_or("the signature carries no certificates")?;
    let cert = certs
        .0
        .iter()
        .filter_map(|c| match c {
            CertificateChoices::Certificate(c) => Some(c),
            CertificateChoices::Other(_) => None,
        })
        .find(|c| is_signer(&si.sid, c))
        .ok_or("no certificate matches the SignerInfo's issuer and serial number")?;
    Ok(common_name(&cert.tbs_certificate.subject)
        .unwrap_or_else(|| cert.tbs_certificate.subject.to_string()))
}

fn is_signer(sid: &SignerIdentifier, cert: &Certificate) -> bool {
    let tbs = &cert.tbs_certificate;
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
}

/// The last CN in the subject (the most specific one), decoded from any string type.
pub(crate) fn common_name(name: &Name) -> Option<String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut w = Vec::new();
        assert_eq!(signer_cn(&[&[0x30, 0x82, 0xff, 0xff, 0]], &mut w), None);
        assert_eq!(signer_cn(&[&[]], &mut w), None);
        assert_eq!(w.len(), 2);
    }
}
