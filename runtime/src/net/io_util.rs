//! The loops shared by every stream type: read exactly, write everything.

use std::future::poll_fn;
use std::io::{self, Read, Write};
use std::os::fd::AsFd;

use super::source::Source;

pub(crate) async fn read<T: AsFd>(source: &Source<T>, buf: &mut [u8]) -> io::Result<usize>
where
    for<'a> &'a T: Read + Write,
{
    poll_fn(|cx| source.poll_read(cx, buf)).await
}

pub(crate) async fn write<T: AsFd>(source: &Source<T>, buf: &[u8]) -> io::Result<usize>
where
    for<'a> &'a T: Read + Write,
{
    poll_fn(|cx| source.poll_write(cx, buf)).await
}

pub(crate) async fn read_exact<T: AsFd>(source: &Source<T>, mut buf: &mut [u8]) -> io::Result<()>
where
    for<'a> &'a T: Read + Write,
{
    let wanted = buf.len();
    while !buf.is_empty() {
        match read(source, buf).await? {
            0 => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "read_exact: the peer closed after {} of {wanted} bytes",
                        wanted - buf.len()
                    ),
                ))
            }
            n => buf = &mut buf[n..],
        }
    }
    Ok(())
}

pub(crate) async fn write_all<T: AsFd>(source: &Source<T>, mut buf: &[u8]) -> io::Result<()>
where
    for<'a> &'a T: Read + Write,
{
    while !buf.is_empty() {
        match write(source, buf).await? {
            0 => {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "write_all: the socket accepted no bytes",
                ))
            }
            n => buf = &buf[n..],
        }
    }
    Ok(())
}
