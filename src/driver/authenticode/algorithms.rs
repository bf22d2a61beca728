//! The digest and public-key algorithms signatures name by OID, and the checks themselves,
//! through the RustCrypto crates (`sha1`, `sha2`, `rsa`, `p256`, `p384`): nothing here is
//! hand-written cryptography, only the mapping from OIDs to those crates.

use const_oid::ObjectIdentifier;
use der::Decode;
use serde::{Deserialize, Serialize};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use utoipa::ToSchema;

const SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");
const MD5: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.2.5");

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const MD5_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.4");
const SHA1_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.5");
const SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const SHA384_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const SHA512_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const ECDSA_WITH_SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.1");
const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_WITH_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const ECDSA_WITH_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");
const CURVE_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const CURVE_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");

/// Largest RSA modulus accepted, in bits (the `rsa` crate's default stops at 4096; a few roots
/// use larger keys).
const MAX_RSA_BITS: usize = 16_384;

/// A digest algorithm a signature uses, weakest first (so the strongest is the largest).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum DigestAlgorithm {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl DigestAlgorithm {
    pub fn from_oid(oid: &ObjectIdentifier) -> Result<Self, Unsupported> {
        match *oid {
            SHA1 => Ok(Self::Sha1),
            SHA256 => Ok(Self::Sha256),
            SHA384 => Ok(Self::Sha384),
            SHA512 => Ok(Self::Sha512),
            MD5 => Err(Unsupported("the MD5 digest".into())),
            other => Err(Unsupported(format!("the digest algorithm {other}"))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Sha1 => "SHA-1",
            Self::Sha256 => "SHA-256",
            Self::Sha384 => "SHA-384",
            Self::Sha512 => "SHA-512",
        }
    }

    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        self.digest_parts(&[data])
    }

    /// The digest of the parts one after another, as if they were one buffer.
    pub fn digest_parts(self, parts: &[&[u8]]) -> Vec<u8> {
        fn run<D: Digest>(parts: &[&[u8]]) -> Vec<u8> {
            let mut hasher = D::new();
            for part in parts {
                hasher.update(part);
            }
            hasher.finalize().to_vec()
        }
        match self {
            Self::Sha1 => run::<Sha1>(parts),
            Self::Sha256 => run::<Sha256>(parts),
            Self::Sha384 => run::<Sha384>(parts),
            Self::Sha512 => run::<Sha512>(parts),
        }
    }
}

/// An algorithm this build does not check (MD5, RSA-PSS, another curve): the signature is
/// neither called good nor bad.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported(pub String);

/// Why a public-key check did not pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyCheckError {
    /// The signature does not verify with the key: a different key signed, or the signed
    /// bytes changed.
    Mismatch,
    /// The key or the signature cannot be read.
    Unreadable(String),
    Unsupported(Unsupported),
}

impl std::fmt::Display for KeyCheckError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Mismatch => f.write_str("the signature does not match the key"),
            Self::Unreadable(why) => write!(f, "unreadable: {why}"),
            Self::Unsupported(Unsupported(what)) => write!(f, "{what} is not supported"),
        }
    }
}

/// The digest a signature algorithm names, if it names one (`sha256WithRSAEncryption` does;
/// plain `rsaEncryption` in a SignerInfo leaves it to the SignerInfo's digest algorithm).
pub fn signature_digest(
    algorithm: &AlgorithmIdentifierOwned,
) -> Result<Option<DigestAlgorithm>, Unsupported> {
    Ok(match algorithm.oid {
        RSA_ENCRYPTION | EC_PUBLIC_KEY => None,
        SHA1_WITH_RSA | ECDSA_WITH_SHA1 => Some(DigestAlgorithm::Sha1),
        SHA256_WITH_RSA | ECDSA_WITH_SHA256 => Some(DigestAlgorithm::Sha256),
        SHA384_WITH_RSA | ECDSA_WITH_SHA384 => Some(DigestAlgorithm::Sha384),
        SHA512_WITH_RSA | ECDSA_WITH_SHA512 => Some(DigestAlgorithm::Sha512),
        MD5_WITH_RSA => return Err(Unsupported("MD5 with RSA".into())),
        other => return Err(Unsupported(format!("the signature algorithm {other}"))),
    })
}

/// Checks `signature` over `message` (hashed with `digest`) with the public key `key`.
pub fn verify(
    key: &SubjectPublicKeyInfoOwned,
    digest: DigestAlgorithm,
    message: &[u8],
    signature: &[u8],
) -> Result<(), KeyCheckError> {
    let hashed = digest.digest(message);
    let key_bytes = key.subject_public_key.raw_bytes();
    match key.algorithm.oid {
        RSA_ENCRYPTION => verify_rsa(key_bytes, digest, &hashed, signature),
        EC_PUBLIC_KEY => {
            let curve = key
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
                .ok_or_else(|| KeyCheckError::Unreadable("an EC key without its curve".into()))?;
            match curve {
                CURVE_P256 => verify_p256(key_bytes, &hashed, signature),
                CURVE_P384 => verify_p384(key_bytes, &hashed, signature),
                other => Err(KeyCheckError::Unsupported(Unsupported(format!(
                    "the elliptic curve {other}"
                )))),
            }
        }
        other => Err(KeyCheckError::Unsupported(Unsupported(format!(
            "the public-key algorithm {other}"
        )))),
    }
}

fn verify_rsa(
    key: &[u8],
    digest: DigestAlgorithm,
    hashed: &[u8],
    signature: &[u8],
) -> Result<(), KeyCheckError> {
    use rsa::{BigUint, Pkcs1v15Sign, RsaPublicKey};
    let unreadable = |e: &dyn std::fmt::Display| KeyCheckError::Unreadable(format!("RSA key: {e}"));
    let fields = rsa::pkcs1::RsaPublicKey::from_der(key).map_err(|e| unreadable(&e))?;
    let key = RsaPublicKey::new_with_max_size(
        BigUint::from_bytes_be(fields.modulus.as_bytes()),
        BigUint::from_bytes_be(fields.public_exponent.as_bytes()),
        MAX_RSA_BITS,
    )
    .map_err(|e| unreadable(&e))?;
    let scheme = match digest {
        DigestAlgorithm::Sha1 => Pkcs1v15Sign::new::<Sha1>(),
        DigestAlgorithm::Sha256 => Pkcs1v15Sign::new::<Sha256>(),
        DigestAlgorithm::Sha384 => Pkcs1v15Sign::new::<Sha384>(),
        DigestAlgorithm::Sha512 => Pkcs1v15Sign::new::<Sha512>(),
    };
    if key.verify(scheme, hashed, signature).is_ok() {
        return Ok(());
    }
    // Old SHA-1 countersignatures (Symantec's and Thawte's time-stamp services until about
    // 2017) pad the bare digest without the DigestInfo that names its algorithm, which
    // CryptoAPI accepts; the digest itself must still match in full.
    if digest == DigestAlgorithm::Sha1
        && key
            .verify(Pkcs1v15Sign::new_unprefixed(), hashed, signature)
            .is_ok()
    {
        return Ok(());
    }
    Err(KeyCheckError::Mismatch)
}

fn verify_p256(key: &[u8], hashed: &[u8], signature: &[u8]) -> Result<(), KeyCheckError> {
    use p256::ecdsa::signature::hazmat::PrehashVerifier;
    use p256::ecdsa::{Signature, VerifyingKey};
    let key = VerifyingKey::from_sec1_bytes(key)
        .map_err(|e| KeyCheckError::Unreadable(format!("P-256 key: {e}")))?;
    let signature = Signature::from_der(signature)
        .map_err(|e| KeyCheckError::Unreadable(format!("ECDSA signature: {e}")))?;
    key.verify_prehash(hashed, &signature)
        .map_err(|_| KeyCheckError::Mismatch)
}

fn verify_p384(key: &[u8], hashed: &[u8], signature: &[u8]) -> Result<(), KeyCheckError> {
    use p384::ecdsa::signature::hazmat::PrehashVerifier;
    use p384::ecdsa::{Signature, VerifyingKey};
    let key = VerifyingKey::from_sec1_bytes(key)
        .map_err(|e| KeyCheckError::Unreadable(format!("P-384 key: {e}")))?;
    let signature = Signature::from_der(signature)
        .map_err(|e| KeyCheckError::Unreadable(format!("ECDSA signature: {e}")))?;
    key.verify_prehash(hashed, &signature)
        .map_err(|_| KeyCheckError::Mismatch)
}
