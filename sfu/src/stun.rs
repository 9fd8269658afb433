//! Just enough STUN (RFC 8489) parsing to route a datagram from an unknown address: the
//! USERNAME attribute of a Binding request is `<our ufrag>:<their ufrag>`, and our ufrag says
//! which connection (and so which worker) it is for. Everything else about STUN is str0m's job.

const MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xa4, 0x42];
const HEADER_LEN: usize = 20;
const ATTR_USERNAME: u16 = 0x0006;

/// Whether the first byte says STUN (RFC 7983 demultiplexing: 0..=3).
pub fn is_stun(datagram: &[u8]) -> bool {
    datagram.len() >= HEADER_LEN && datagram[0] < 4 && datagram[4..8] == MAGIC_COOKIE
}

/// Our (local) ICE ufrag from a STUN message's USERNAME attribute, if it has one.
///
/// Returns `None` for anything that is not well-formed STUN; never panics on any input.
pub fn local_ufrag(datagram: &[u8]) -> Option<&str> {
    if !is_stun(datagram) {
        return None;
    }
    let body_len = u16::from_be_bytes([datagram[2], datagram[3]]) as usize;
    let body = datagram.get(HEADER_LEN..HEADER_LEN + body_len)?;
    let username = find_attribute(body, ATTR_USERNAME)?;
    let username = std::str::from_utf8(username).ok()?;
    let (local, _remote) = username.split_once(':')?;
    (!local.is_empty()).then_some(local)
}

fn find_attribute(mut body: &[u8], wanted: u16) -> Option<&[u8]> {
    while body.len() >= 4 {
        let kind = u16::from_be_bytes([body[0], body[1]]);
        let len = u16::from_be_bytes([body[2], body[3]]) as usize;
        let value = body.get(4..4 + len)?;
        if kind == wanted {
            return Some(value);
        }
        // Attributes are padded to a multiple of four bytes.
        let padded = 4 + len.div_ceil(4) * 4;
        body = body.get(padded..)?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding_request(username: &[u8]) -> Vec<u8> {
        let padded = username.len().div_ceil(4) * 4;
        let mut attrs = vec![0x00, 0x24, 0x00, 0x04, 1, 2, 3, 4]; // PRIORITY first
        attrs.extend_from_slice(&ATTR_USERNAME.to_be_bytes());
        attrs.extend_from_slice(&(username.len() as u16).to_be_bytes());
        attrs.extend_from_slice(username);
        attrs.resize(8 + 4 + padded, 0);
        let mut msg = vec![0x00, 0x01];
        msg.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
        msg.extend_from_slice(&MAGIC_COOKIE);
        msg.extend_from_slice(&[7; 12]);
        msg.extend_from_slice(&attrs);
        msg
    }

    #[test]
    fn finds_local_ufrag_after_other_attributes() {
        let msg = binding_request(b"srv1:cli22");
        assert_eq!(local_ufrag(&msg), Some("srv1"));
    }

    #[test]
    fn rejects_non_stun_and_truncated_input() {
        assert_eq!(local_ufrag(b""), None);
        assert_eq!(local_ufrag(&[0x80; 40]), None, "RTP is not STUN");
        let msg = binding_request(b"srv1:cli22");
        for cut in 0..msg.len() {
            assert_eq!(local_ufrag(&msg[..cut]), None, "cut at {cut}");
        }
    }

    #[test]
    fn rejects_username_without_colon_or_with_empty_ufrag() {
        assert_eq!(local_ufrag(&binding_request(b"nocolon")), None);
        assert_eq!(local_ufrag(&binding_request(b":remote")), None);
    }

    #[test]
    fn survives_lying_lengths() {
        let mut msg = binding_request(b"srv1:cli22");
        msg[2] = 0xff; // body length far past the end
        assert_eq!(local_ufrag(&msg), None);
        let mut msg = binding_request(b"srv1:cli22");
        msg[HEADER_LEN + 10] = 0xff; // attribute length past the end
        assert_eq!(local_ufrag(&msg), None);
    }
}
