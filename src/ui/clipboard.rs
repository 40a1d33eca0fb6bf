//! Copying to the clipboard with OSC 52: the terminal (local or at the far end of SSH) puts the
//! text on its own clipboard, so no X11 or Wayland access is needed. tmux passes it on with
//! `set -g set-clipboard on`; some terminals need the feature enabled.

/// Standard base64 (RFC 4648, with padding).
pub fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(T[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Most terminals cap OSC 52 payloads (xterm ~100 kB); longer text is cut, and the caller says so.
pub const MAX_COPY_BYTES: usize = 74_000;

/// The escape sequence that sets the clipboard to `text` (cut at a character boundary below
/// [`MAX_COPY_BYTES`]). Returns the sequence and the number of bytes copied.
pub fn osc52(text: &str) -> (String, usize) {
    let mut end = text.len().min(MAX_COPY_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let body = &text[..end];
    (format!("\x1b]52;c;{}\x07", base64(body.as_bytes())), end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (i, o) in
            [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("foobar", "Zm9vYmFy")]
        {
            assert_eq!(base64(i.as_bytes()), o);
        }
        let (seq, n) = osc52("hi");
        assert_eq!(seq, "\x1b]52;c;aGk=\x07");
        assert_eq!(n, 2);
        let long = "é".repeat(MAX_COPY_BYTES);
        let (_, n) = osc52(&long);
        assert!(n <= MAX_COPY_BYTES && n % 2 == 0);
    }
}
