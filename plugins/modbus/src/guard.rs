//! A read-side filter between the server's TCP sockets and tokio-modbus's request decoder. tokio-modbus 0.17
//! panics on some malformed requests (function 15 with more coils than data bytes indexes out of bounds;
//! functions 16 and 23 with a quantity ≥ 0x8000 overflow `quantity * 2`). The guard checks every complete
//! Modbus TCP frame before the decoder sees it and turns such frames, and frames longer than Modbus allows,
//! into an I/O error that closes that one connection, as the decoder does for every other malformed frame.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// MBAP header: transaction id (2), protocol id (2), length (2), unit id (1).
const HEADER_LEN: usize = 7;
/// Largest PDU Modbus allows (function code and data).
const MAX_PDU_LEN: usize = 253;
/// Bytes read from the socket at a time.
const CHUNK: usize = 512;

/// Wraps a server-side stream; reads hand out only complete frames that passed [`check_pdu`].
#[derive(Debug)]
pub(crate) struct FrameGuard<T> {
    inner: T,
    /// Bytes read from `inner` and not handed out yet: `checked` bytes of complete, valid frames, then at most
    /// one partial frame.
    buf: Vec<u8>,
    checked: usize,
    /// A malformed frame follows the checked bytes: fail once they are handed out.
    error: Option<io::Error>,
}

impl<T> FrameGuard<T> {
    pub(crate) fn new(inner: T) -> Self {
        FrameGuard { inner, buf: Vec::with_capacity(CHUNK), checked: 0, error: None }
    }
}

/// Length of the complete, valid Modbus TCP request frames at the start of `buf`, and the error of the first
/// malformed frame after them, if any.
pub fn check_frames(buf: &[u8]) -> (usize, Option<io::Error>) {
    let mut pos = 0;
    while let Some(header) = buf.get(pos..pos + HEADER_LEN) {
        // The length field counts the unit id and the PDU.
        let len = usize::from(u16::from_be_bytes([header[4], header[5]]));
        if len == 0 || len - 1 > MAX_PDU_LEN {
            return (pos, Some(invalid(format!("Modbus TCP frame length {len} is outside 1..=254"))));
        }
        let Some(pdu) = buf.get(pos + HEADER_LEN..pos + HEADER_LEN + len - 1) else {
            break;
        };
        if let Err(e) = check_pdu(pdu) {
            return (pos, Some(e));
        }
        pos += HEADER_LEN + len - 1;
    }
    (pos, None)
}

/// Refuses the request PDUs that make tokio-modbus 0.17's decoder panic. Everything else (even if malformed)
/// is left to the decoder, which answers it with an error.
fn check_pdu(pdu: &[u8]) -> io::Result<()> {
    let be16 = |i: usize| pdu.get(i..i + 2).map(|b| u16::from_be_bytes([b[0], b[1]]));
    match pdu.first() {
        // Write multiple coils: address, quantity, byte count, packed coils.
        Some(0x0F) => {
            if let (Some(quantity), Some(&byte_count)) = (be16(3), pdu.get(5))
                && usize::from(quantity) > 8 * usize::from(byte_count)
            {
                return Err(invalid(format!("write of {quantity} coils carries only {byte_count} data bytes")));
            }
        }
        // Write multiple registers: address, quantity, byte count, words.
        Some(0x10) => {
            if let Some(quantity) = be16(3)
                && quantity > 0x7FFF
            {
                return Err(invalid(format!("write of {quantity} registers")));
            }
        }
        // Read/write multiple registers: read address, read quantity, write address, write quantity, ...
        Some(0x17) => {
            if let Some(quantity) = be16(7)
                && quantity > 0x7FFF
            {
                return Err(invalid(format!("read/write with a write of {quantity} registers")));
            }
        }
        _ => {}
    }
    Ok(())
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

impl<T: AsyncRead + Unpin> AsyncRead for FrameGuard<T> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, out: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.checked > 0 {
                let n = this.checked.min(out.remaining());
                out.put_slice(&this.buf[..n]);
                this.buf.drain(..n);
                this.checked -= n;
                return Poll::Ready(Ok(()));
            }
            if let Some(e) = this.error.take() {
                return Poll::Ready(Err(e));
            }
            let mut chunk = [0u8; CHUNK];
            let mut chunk = ReadBuf::new(&mut chunk);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut chunk))?;
            if chunk.filled().is_empty() {
                // End of stream; a partial frame is dropped, as the decoder would.
                return Poll::Ready(Ok(()));
            }
            this.buf.extend_from_slice(chunk.filled());
            let (checked, error) = check_frames(&this.buf);
            this.checked = checked;
            this.error = error;
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for FrameGuard<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(pdu: &[u8]) -> Vec<u8> {
        let len = (pdu.len() + 1) as u16;
        let mut f = vec![0x00, 0x01, 0x00, 0x00];
        f.extend_from_slice(&len.to_be_bytes());
        f.push(1);
        f.extend_from_slice(pdu);
        f
    }

    #[test]
    fn complete_valid_frames_pass_and_a_partial_one_waits() {
        let read = frame(&[0x03, 0x00, 0x0A, 0x00, 0x02]);
        let mut buf = read.clone();
        buf.extend_from_slice(&read);
        buf.extend_from_slice(&read[..9]);
        let (checked, error) = check_frames(&buf);
        assert_eq!(checked, 2 * read.len());
        assert!(error.is_none());
        assert_eq!(check_frames(&read[..6]).0, 0, "an incomplete header waits");
    }

    #[test]
    fn frames_that_panic_tokio_modbus_are_refused_after_the_valid_ones() {
        let good = frame(&[0x06, 0x00, 0x01, 0x12, 0x34]);
        for bad in [
            frame(&[0x0F, 0x00, 0x00, 0x00, 0x10, 0x01, 0xFF]),
            frame(&[0x10, 0x00, 0x00, 0x80, 0x01, 0x02, 0x00, 0x00]),
            frame(&[0x17, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0xFF, 0xFF, 0x02, 0x00, 0x00]),
            vec![0, 1, 0, 0, 0x01, 0x00, 1],
            vec![0, 1, 0, 0, 0x00, 0x00, 1],
        ] {
            let mut buf = good.clone();
            buf.extend_from_slice(&bad);
            let (checked, error) = check_frames(&buf);
            assert_eq!(checked, good.len(), "{bad:02X?}");
            let error = error.expect("refused");
            assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        }
    }

    #[test]
    fn well_formed_multi_writes_pass() {
        for ok in [
            frame(&[0x0F, 0x00, 0x00, 0x00, 0x08, 0x01, 0xFF]),
            frame(&[0x10, 0x00, 0x00, 0x00, 0x01, 0x02, 0x12, 0x34]),
            frame(&[0x10, 0x00]),
            frame(&[0x2B]),
        ] {
            let (checked, error) = check_frames(&ok);
            assert_eq!((checked, error.map(|e| e.to_string())), (ok.len(), None));
        }
    }
}
