//! The bytes on the wire: request bodies are JSON compressed with zstd and must carry the frame's
//! content checksum, so a body corrupted on the way fails to decompress instead of being misread;
//! decompression is bounded so that a small body cannot inflate without limit. Device tokens are
//! kept by the server (and key USB bundles) only as their SHA-256.

use sha2::{Digest, Sha256};
use std::io::{Read, Write};

#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("nội dung nén thiếu mã kiểm tra (zstd content checksum)")]
    MissingChecksum,
    #[error("nội dung nén hỏng hoặc bị cắt: {0}")]
    Corrupt(String),
    #[error("quá {limit} byte sau khi giải nén")]
    TooLarge { limit: u64 },
}

/// How hard a body is compressed; the server reads either alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Fewest bytes for the CPU: [`body_encoder`]'s settings (a batch of 5,000 records: 135 KB
    /// in ~15 ms on the bench machine). For a link slower than the compressor itself.
    Thorough,
    /// zstd level 1: a third more bytes (177 KB) in a fifth of the time (~3 ms). For a link
    /// that carries bytes faster than [`Compression::Thorough`] makes them, where the laptop's
    /// CPU, not the line, is what the batch waits for.
    Fast,
}

/// Compresses a body as the protocol requires: zstd with the content checksum, at the settings of
/// [`body_encoder`]; any settings decompress alike.
pub fn compress_body(json: &[u8]) -> Vec<u8> {
    compress_body_as(json, Compression::Thorough)
}

/// [`compress_body`] at the given [`Compression`].
pub fn compress_body_as(json: &[u8], compression: Compression) -> Vec<u8> {
    let mut encoder = body_encoder(compression);
    encoder.write_all(json).expect("writing to memory");
    encoder.finish().expect("finishing into memory")
}

/// [`compress_body`] of `value`'s JSON, written straight into the compressor. A push batch's
/// JSON is a few MB; built whole first, its buffer grew by reallocation into fresh pages that
/// the kernel zeroes, which cost more than writing the JSON itself.
pub fn compress_json<T: serde::Serialize>(value: &T) -> Vec<u8> {
    compress_json_as(value, Compression::Thorough)
}

/// [`compress_json`] at the given [`Compression`].
pub fn compress_json_as<T: serde::Serialize>(value: &T, compression: Compression) -> Vec<u8> {
    let mut json = std::io::BufWriter::with_capacity(128 * 1024, body_encoder(compression));
    serde_json::to_writer(&mut json, value).expect("serialises");
    let encoder = json
        .into_inner()
        .unwrap_or_else(|_| panic!("writing to memory"));
    encoder.finish().expect("finishing into memory")
}

/// Thorough: zstd level 8 (its lazy2 match finder and window) with small match tables, one probe
/// per position and matches of 6 bytes or more. A push batch is thousands of records in which the
/// same IDs and field names recur at every distance: measured on the bench's 40,802 records
/// (11 batches), plain level 8 sent 1.17 MB and spent ~240 ms of CPU; these settings send 1.05 MB
/// (−11 %) for ~60 % of the CPU. Small tables remember the recent records, which is where a
/// record's neighbours share the longest runs (UUIDv7 prefixes, the same session), and a longer
/// minimum match skips the short ones that cost more to code than they save (docs/benchmarks.md,
/// change 10). Level 1 is ten times as fast but sends 1.28 MB, a fifth more over a village link.
/// Fast: level 1 as zstd sets it.
fn body_encoder(compression: Compression) -> zstd::stream::Encoder<'static, Vec<u8>> {
    use zstd::stream::raw::CParameter;
    let level = match compression {
        Compression::Thorough => 8,
        Compression::Fast => 1,
    };
    let mut encoder =
        zstd::stream::Encoder::new(Vec::new(), level).expect("levels 1 and 8 are valid");
    if compression == Compression::Thorough {
        for parameter in [
            CParameter::HashLog(15),
            CParameter::ChainLog(15),
            CParameter::SearchLog(1),
            CParameter::MinMatch(6),
        ] {
            encoder
                .set_parameter(parameter)
                .expect("the parameters are within zstd's bounds");
        }
    }
    encoder
        .include_checksum(true)
        .expect("checksums are supported");
    encoder
}

/// Whether a zstd body carries the content checksum that [`compress_body`] adds (bit 2 of the
/// frame header descriptor, after the 4-byte magic number).
pub fn has_checksum(body: &[u8]) -> bool {
    body.len() > 4 && body[..4] == [0x28, 0xb5, 0x2f, 0xfd] && body[4] & 0x04 != 0
}

/// Decompresses a checksummed body, refusing more than `limit` bytes of output.
pub fn decompress_body(body: &[u8], limit: u64) -> Result<Vec<u8>, WireError> {
    if !has_checksum(body) {
        return Err(WireError::MissingChecksum);
    }
    let decoder =
        zstd::stream::read::Decoder::new(body).map_err(|e| WireError::Corrupt(e.to_string()))?;
    let mut out = Vec::new();
    decoder
        .take(limit + 1)
        .read_to_end(&mut out)
        .map_err(|e| WireError::Corrupt(e.to_string()))?;
    if out.len() as u64 > limit {
        return Err(WireError::TooLarge { limit });
    }
    Ok(out)
}

/// Hash under which the server stores a device token (hex SHA-256).
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A server certificate's fingerprint as `sotay server enroll` prints it and laptops pin it:
/// SHA-256 of the certificate (DER), upper-case hex pairs joined by colons, as
/// `openssl x509 -fingerprint -sha256` prints it too.
pub fn certificate_fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// A fingerprint as someone typed it (any case, with or without colons or spaces), in the form
/// [`certificate_fingerprint`] gives; None when it is not 32 bytes of hex.
pub fn parse_fingerprint(typed: &str) -> Option<String> {
    let digits: String = typed
        .chars()
        .filter(|c| !matches!(c, ':' | ' ' | '-'))
        .collect();
    let bytes = hex::decode(digits).ok().filter(|b| b.len() == 32)?;
    Some(
        bytes
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(":"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_read_back_however_they_were_typed() {
        let printed = certificate_fingerprint(b"a certificate");
        assert_eq!(printed.len(), 32 * 3 - 1);
        assert_eq!(
            parse_fingerprint(&printed).as_deref(),
            Some(printed.as_str())
        );
        let typed = printed.replace(':', " ").to_lowercase();
        assert_eq!(parse_fingerprint(&typed).as_deref(), Some(printed.as_str()));
        assert_eq!(parse_fingerprint("AB:CD"), None);
        assert_eq!(parse_fingerprint("not hex at all"), None);
    }

    #[test]
    fn a_value_compressed_as_it_is_written_is_its_json_compressed() {
        let value = serde_json::json!({"records": (0..20_000).collect::<Vec<u32>>()});
        let body = compress_json(&value);
        assert!(has_checksum(&body));
        assert_eq!(
            decompress_body(&body, 1 << 20).unwrap(),
            serde_json::to_vec(&value).unwrap()
        );
    }

    #[test]
    fn both_compressions_read_back_and_fast_trades_bytes() {
        let value = serde_json::json!({
            "records": (0..5_000)
                .map(|i| serde_json::json!({"id": format!("0190a4c2-{i:04x}-7abc"), "n": i}))
                .collect::<Vec<_>>()
        });
        let json = serde_json::to_vec(&value).unwrap();
        let thorough = compress_json_as(&value, Compression::Thorough);
        let fast = compress_json_as(&value, Compression::Fast);
        assert_eq!(thorough, compress_json(&value));
        for body in [&thorough, &fast] {
            assert!(has_checksum(body));
            assert_eq!(decompress_body(body, 1 << 22).unwrap(), json);
        }
        assert!(
            fast.len() > thorough.len(),
            "{} {}",
            fast.len(),
            thorough.len()
        );
    }

    #[test]
    fn bodies_round_trip_and_damage_is_refused() {
        let json = br#"{"records":[]}"#.repeat(100);
        let body = compress_body(&json);
        assert!(has_checksum(&body));
        assert_eq!(decompress_body(&body, 1 << 20).unwrap(), json);
        assert!(matches!(
            decompress_body(&body, 10),
            Err(WireError::TooLarge { limit: 10 })
        ));
        let plain = zstd::encode_all(&json[..], 3).unwrap();
        assert!(matches!(
            decompress_body(&plain, 1 << 20),
            Err(WireError::MissingChecksum)
        ));
        let mut damaged = body.clone();
        let last = damaged.len() - 2;
        damaged[last] ^= 0xff;
        assert!(decompress_body(&damaged, 1 << 20).is_err());
    }
}
