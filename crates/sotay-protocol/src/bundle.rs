//! The USB bundle: a laptop's pending records in one file for when there is no network at all.
//! A header line `SOTAY-BUNDLE-2 <device> <nonce>` then the zstd-compressed JSON body, encrypted
//! and authenticated with ChaCha20-Poly1305 (the header line is the associated data). The key is
//! derived from the device token's hash, which only the device and the server hold: a stick that
//! is lost shows no name, and a bundle edited or cut on the way is refused whole.
//!
//! Bundles written by laptops before encryption (`SOTAY-BUNDLE-1 <device> <hmac>`, signed with
//! HMAC-SHA256 but readable) are still accepted by the server; nothing writes them any more.

use crate::wire::token_hash;
use crate::{DeviceId, OutboxRecord};
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

pub const BUNDLE_MAGIC: &str = "SOTAY-BUNDLE-2";
const SIGNED_ONLY_MAGIC: &str = "SOTAY-BUNDLE-1";

/// What a bundle file holds after its header line.
#[derive(Debug, Serialize, Deserialize)]
pub struct BundleContent {
    pub protocol_version: u32,
    pub device_id: DeviceId,
    pub created_at: String,
    pub records: Vec<OutboxRecord>,
}

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("thiếu dòng tiêu đề")]
    MissingHeader,
    #[error("không phải gói Sổ Tay")]
    NotABundle,
    #[error("mã máy hỏng")]
    BadDevice,
    #[error("máy {0} không thuộc máy chủ này")]
    UnknownDevice(DeviceId),
    #[error("gói không mở được: đã bị sửa, bị cắt, hoặc không phải của máy này")]
    BadSignature,
    #[error("nội dung gói hỏng: {0}")]
    Corrupt(String),
    #[error("mã máy trong gói không khớp tiêu đề")]
    DeviceMismatch,
    #[error("gói chứa bản ghi của máy khác")]
    ForeignRecords,
}

fn token_key(token_hash_hex: &str) -> Result<Vec<u8>, BundleError> {
    hex::decode(token_hash_hex).map_err(|e| BundleError::Corrupt(e.to_string()))
}

fn mac(token_hash_hex: &str, device: DeviceId, body: &[u8]) -> Result<String, BundleError> {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(&token_key(token_hash_hex)?).expect("any key length");
    mac.update(format!("{SIGNED_ONLY_MAGIC} {device} ").as_bytes());
    mac.update(body);
    Ok(hex::encode(mac.finalize().into_bytes()))
}

/// The bundle cipher of a device: its own key, derived from its token's hash so that the token
/// itself never keys two things.
fn cipher(token_hash_hex: &str) -> Result<ChaCha20Poly1305, BundleError> {
    let mut kdf =
        <Hmac<Sha256> as Mac>::new_from_slice(&token_key(token_hash_hex)?).expect("any key length");
    kdf.update(b"sotay bundle encryption key v2");
    Ok(ChaCha20Poly1305::new(&kdf.finalize().into_bytes()))
}

/// Writes a bundle: header line and compressed, encrypted body.
pub fn seal(device_token: &str, content: &BundleContent) -> Vec<u8> {
    let json = serde_json::to_vec(content).expect("records serialise");
    let compressed = zstd::encode_all(json.as_slice(), 9).expect("compressing into memory");
    let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
    let header = format!(
        "{BUNDLE_MAGIC} {} {}",
        content.device_id,
        hex::encode(nonce)
    );
    let body = cipher(&token_hash(device_token))
        .expect("a hash is valid hex")
        .encrypt(
            &nonce,
            Payload {
                msg: &compressed,
                aad: header.as_bytes(),
            },
        )
        .expect("encrypting into memory");
    let mut file = header.into_bytes();
    file.push(b'\n');
    file.extend_from_slice(&body);
    file
}

/// Splits and checks a bundle file; returns the verified content. `key_for` gives the token hash
/// of an enrolled device (None: unknown device).
pub fn open(
    bytes: &[u8],
    key_for: impl FnOnce(DeviceId) -> Option<String>,
) -> Result<BundleContent, BundleError> {
    let newline = bytes
        .iter()
        .position(|&b| b == b'\n')
        .ok_or(BundleError::MissingHeader)?;
    let header = std::str::from_utf8(&bytes[..newline]).map_err(|_| BundleError::NotABundle)?;
    let body = &bytes[newline + 1..];
    let mut parts = header.split(' ');
    let (Some(magic), Some(device), Some(check), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(BundleError::NotABundle);
    };
    if magic != BUNDLE_MAGIC && magic != SIGNED_ONLY_MAGIC {
        return Err(BundleError::NotABundle);
    }
    let device: DeviceId = device.parse().map_err(|_| BundleError::BadDevice)?;
    let key = key_for(device).ok_or(BundleError::UnknownDevice(device))?;
    let compressed = if magic == BUNDLE_MAGIC {
        let nonce: [u8; 12] = hex::decode(check)
            .ok()
            .and_then(|n| n.try_into().ok())
            .ok_or(BundleError::NotABundle)?;
        cipher(&key)?
            .decrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: body,
                    aad: header.as_bytes(),
                },
            )
            .map_err(|_| BundleError::BadSignature)?
    } else {
        let expected = mac(&key, device, body)?;
        // Both are hex of a fixed length; compare all bytes so timing says nothing.
        let same = expected.len() == check.len()
            && expected
                .bytes()
                .zip(check.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        if !same {
            return Err(BundleError::BadSignature);
        }
        body.to_vec()
    };
    let json =
        zstd::decode_all(compressed.as_slice()).map_err(|e| BundleError::Corrupt(e.to_string()))?;
    let content: BundleContent =
        serde_json::from_slice(&json).map_err(|e| BundleError::Corrupt(e.to_string()))?;
    if content.device_id != device {
        return Err(BundleError::DeviceMismatch);
    }
    if content.records.iter().any(|r| r.device_id != device) {
        return Err(BundleError::ForeignRecords);
    }
    Ok(content)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundles_refuse_tampering_truncation_and_strangers() {
        let device = DeviceId::new();
        let content = BundleContent {
            protocol_version: crate::PROTOCOL_VERSION,
            device_id: device,
            created_at: "now".into(),
            records: vec![],
        };
        let file = seal("secret", &content);
        let key = token_hash("secret");
        assert!(open(&file, |_| Some(key.clone())).is_ok());
        let mut tampered = file.clone();
        let last = tampered.len() - 3;
        tampered[last] ^= 1;
        assert!(open(&tampered, |_| Some(key.clone())).is_err());
        assert!(open(&file[..file.len() - 5], |_| Some(key.clone())).is_err());
        assert!(matches!(
            open(&file, |_| None),
            Err(BundleError::UnknownDevice(_))
        ));
        assert!(matches!(
            open(&file, |_| Some(token_hash("other"))),
            Err(BundleError::BadSignature)
        ));
    }

    fn citizen_record(device: DeviceId) -> OutboxRecord {
        OutboxRecord {
            record_id: crate::RecordId::new(),
            device_id: device,
            seq: 1,
            hlc: crate::Hlc::zero(device).tick(1),
            entity: crate::Entity::Citizen,
            entity_id: "c1".into(),
            op: crate::Operation::Upsert,
            fields: vec![],
            payload_version: 1,
            payload: serde_json::json!({"full_name": "Hoàng Thị Mến", "phone": "0912345678"}),
        }
    }

    #[test]
    fn a_bundle_on_a_lost_stick_shows_nothing_even_decompressed() {
        let device = DeviceId::new();
        let content = BundleContent {
            protocol_version: crate::PROTOCOL_VERSION,
            device_id: device,
            created_at: "now".into(),
            records: vec![citizen_record(device); 50],
        };
        let file = seal("secret", &content);
        let body = &file[file.iter().position(|&b| b == b'\n').unwrap() + 1..];
        assert!(
            zstd::decode_all(body).is_err(),
            "the body is not plain zstd"
        );
        for secret in ["Hoàng Thị Mến", "0912345678"] {
            assert!(!file.windows(secret.len()).any(|w| w == secret.as_bytes()));
        }
        let opened = open(&file, |_| Some(token_hash("secret"))).unwrap();
        assert_eq!(opened.records[0].payload["phone"], "0912345678");
        // Two bundles of the same records never share a nonce.
        assert_ne!(file[..120], seal("secret", &content)[..120]);
    }

    #[test]
    fn a_signed_bundle_from_an_older_laptop_is_still_read() {
        let device = DeviceId::new();
        let content = BundleContent {
            protocol_version: crate::PROTOCOL_VERSION,
            device_id: device,
            created_at: "now".into(),
            records: vec![citizen_record(device)],
        };
        let key = token_hash("secret");
        let json = serde_json::to_vec(&content).unwrap();
        let body = zstd::encode_all(json.as_slice(), 9).unwrap();
        let mut file = format!(
            "{SIGNED_ONLY_MAGIC} {device} {}\n",
            mac(&key, device, &body).unwrap()
        )
        .into_bytes();
        file.extend_from_slice(&body);
        assert_eq!(open(&file, |_| Some(key.clone())).unwrap().records.len(), 1);
        let last = file.len() - 1;
        file[last] ^= 1;
        assert!(open(&file, |_| Some(key.clone())).is_err());
    }
}
