//! The USB bundle: a laptop's pending records in one file for when there is no network at all.
//! A header line `SOTAY-BUNDLE-1 <device> <hmac>` then the zstd-compressed JSON body; the HMAC
//! (SHA-256, keyed by the device token's hash, which both the device and the server hold) covers
//! the header prefix and the body, so a bundle edited or cut on the way is refused whole.

use crate::wire::token_hash;
use crate::{DeviceId, OutboxRecord};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

pub const BUNDLE_MAGIC: &str = "SOTAY-BUNDLE-1";

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
    #[error("chữ ký không khớp: gói đã bị sửa hoặc bị cắt")]
    BadSignature,
    #[error("nội dung gói hỏng: {0}")]
    Corrupt(String),
    #[error("mã máy trong gói không khớp tiêu đề")]
    DeviceMismatch,
    #[error("gói chứa bản ghi của máy khác")]
    ForeignRecords,
}

fn mac(token_hash_hex: &str, device: DeviceId, body: &[u8]) -> Result<String, BundleError> {
    let key = hex::decode(token_hash_hex).map_err(|e| BundleError::Corrupt(e.to_string()))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes any key length");
    mac.update(format!("{BUNDLE_MAGIC} {device} ").as_bytes());
    mac.update(body);
    Ok(hex::encode(mac.finalize().into_bytes()))
}

/// Writes a bundle: header line and compressed, signed body.
pub fn seal(device_token: &str, content: &BundleContent) -> Vec<u8> {
    let json = serde_json::to_vec(content).expect("records serialise");
    let body = zstd::encode_all(json.as_slice(), 9).expect("compressing into memory");
    let signature =
        mac(&token_hash(device_token), content.device_id, &body).expect("a hash is valid hex");
    let mut file = format!("{BUNDLE_MAGIC} {} {signature}\n", content.device_id).into_bytes();
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
    let (Some(BUNDLE_MAGIC), Some(device), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(BundleError::NotABundle);
    };
    let device: DeviceId = device.parse().map_err(|_| BundleError::BadDevice)?;
    let key = key_for(device).ok_or(BundleError::UnknownDevice(device))?;
    let expected = mac(&key, device, body)?;
    // Both are hex of a fixed length; compare all bytes so timing says nothing.
    let same = expected.len() == signature.len()
        && expected
            .bytes()
            .zip(signature.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if !same {
        return Err(BundleError::BadSignature);
    }
    let json = zstd::decode_all(body).map_err(|e| BundleError::Corrupt(e.to_string()))?;
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
}
