//! Addresses and host names, resolved without stalling the loop.
//!
//! `getaddrinfo` blocks: a name that is not in `/etc/hosts` or a cache waits on DNS, for
//! seconds when a server does not answer. Run on the loop thread, that wait would stall every
//! task and all I/O of the runtime, so weft resolves names on the runtime's
//! [blocking pool](crate::spawn_blocking), as tokio does. Literal addresses (`"10.0.0.1:80"`,
//! a [`SocketAddr`], `(IpAddr, u16)`) are parsed in place and never leave the loop.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use weft_reactor::with_context;

use crate::blocking;
use crate::runtime::Handle;

/// Something weft can turn into socket addresses: what
/// [`TcpStream::connect`](super::TcpStream::connect),
/// [`UdpSocket::connect`](super::UdpSocket::connect) and [`lookup_host`] take.
///
/// It has the implementations of [`std::net::ToSocketAddrs`] (socket addresses, `(ip, port)`,
/// `"host:port"`, `(host, port)`, slices of addresses, and references to any of these), but
/// names are resolved on the blocking pool instead of the calling thread. The trait is sealed:
/// its method is weft's own.
pub trait ToSocketAddrs: sealed::Resolve {}

/// What an address argument stands for. Only nameable inside weft.
mod sealed {
    use std::io;
    use std::net::SocketAddr;

    /// Literal addresses, ready to use, or a name the resolver must look up.
    #[derive(Debug)]
    pub enum Target {
        Addrs(Vec<SocketAddr>),
        Name(String, u16),
    }

    pub trait Resolve {
        /// Parses what can be parsed; fails at once on a malformed `"host:port"`.
        fn target(&self) -> io::Result<Target>;
    }
}

use sealed::{Resolve, Target};

/// Resolves `host` to its socket addresses, as [`std::net::ToSocketAddrs`] does, but on the
/// runtime's blocking pool: the loop keeps running while the resolver waits. Literal addresses
/// are returned at once.
///
/// ```
/// use std::net::SocketAddr;
///
/// weft_runtime::Runtime::new()?.block_on(async {
///     let literal: Vec<SocketAddr> = weft_runtime::net::lookup_host("127.0.0.1:80").await?.collect();
///     assert_eq!(literal, ["127.0.0.1:80".parse::<SocketAddr>().unwrap()]);
///     // A name goes to the blocking pool; `localhost` is in every /etc/hosts.
///     let mut named = weft_runtime::net::lookup_host(("localhost", 80)).await?;
///     assert!(named.all(|a| a.ip().is_loopback() && a.port() == 80));
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// Awaited on a thread that runs no weft runtime (a plain thread with its own executor), it
/// resolves in place: that thread has no loop to stall.
///
/// # Errors
/// A malformed address (`InvalidInput`, without a trip to the pool); the resolver's error,
/// naming `host`; or the runtime shut down before the lookup ran.
pub async fn lookup_host<A: ToSocketAddrs>(host: A) -> io::Result<std::vec::IntoIter<SocketAddr>> {
    resolve(&host).await.map(Vec::into_iter)
}

/// [`lookup_host`] for weft's own callers, which keep ownership of the address argument.
pub(crate) async fn resolve<A: ToSocketAddrs + ?Sized>(host: &A) -> io::Result<Vec<SocketAddr>> {
    let (name, port) = match host.target()? {
        Target::Addrs(addrs) => return Ok(addrs),
        Target::Name(name, port) => (name, port),
    };
    let shown = format!("{name}:{port}");
    let lookup = move || {
        std::net::ToSocketAddrs::to_socket_addrs(&(name.as_str(), port)).map(Iterator::collect)
    };
    let found = if Handle::try_current().is_ok() {
        blocking::run_io("resolving a host name", lookup).await
    } else {
        // Not a loop thread (a plain thread running its own executor): blocking here stalls
        // nothing, and there is no pool to hand the lookup to.
        lookup()
    };
    found.map_err(|e| with_context(e, format_args!("resolving {shown}")))
}

fn one(addr: SocketAddr) -> io::Result<Target> {
    Ok(Target::Addrs(vec![addr]))
}

/// A host and a port: an IP literal is used as it is, anything else is a name to look up.
fn host_port(host: &str, port: u16) -> io::Result<Target> {
    match host.parse::<IpAddr>() {
        Ok(ip) => one(SocketAddr::new(ip, port)),
        Err(_) => Ok(Target::Name(host.to_owned(), port)),
    }
}

impl Resolve for str {
    fn target(&self) -> io::Result<Target> {
        if let Ok(addr) = self.parse::<SocketAddr>() {
            return one(addr);
        }
        let invalid = |what: &str| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{what} in {self:?} (expected \"host:port\")"),
            )
        };
        let (host, port) = self.rsplit_once(':').ok_or_else(|| invalid("no port"))?;
        let port = port.parse().map_err(|_| invalid("invalid port"))?;
        host_port(host, port)
    }
}
impl ToSocketAddrs for str {}

impl Resolve for String {
    fn target(&self) -> io::Result<Target> {
        self.as_str().target()
    }
}
impl ToSocketAddrs for String {}

impl Resolve for (&str, u16) {
    fn target(&self) -> io::Result<Target> {
        host_port(self.0, self.1)
    }
}
impl ToSocketAddrs for (&str, u16) {}

impl Resolve for (String, u16) {
    fn target(&self) -> io::Result<Target> {
        host_port(&self.0, self.1)
    }
}
impl ToSocketAddrs for (String, u16) {}

impl Resolve for [SocketAddr] {
    fn target(&self) -> io::Result<Target> {
        Ok(Target::Addrs(self.to_vec()))
    }
}
impl ToSocketAddrs for [SocketAddr] {}

impl<T: ToSocketAddrs + ?Sized> Resolve for &T {
    fn target(&self) -> io::Result<Target> {
        (**self).target()
    }
}
impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {}

/// Address types that convert to one `SocketAddr` without a lookup.
macro_rules! literal {
    ($($ty:ty),*) => {$(
        impl Resolve for $ty {
            fn target(&self) -> io::Result<Target> {
                one(SocketAddr::from(*self))
            }
        }
        impl ToSocketAddrs for $ty {}
    )*};
}

literal!(
    SocketAddr,
    SocketAddrV4,
    SocketAddrV6,
    (IpAddr, u16),
    (Ipv4Addr, u16),
    (Ipv6Addr, u16)
);

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(target: io::Result<Target>) -> Vec<SocketAddr> {
        match target.unwrap() {
            Target::Addrs(addrs) => addrs,
            name => panic!("expected literal addresses, got {name:?}"),
        }
    }

    #[test]
    fn literals_are_parsed_in_place() {
        let v4: SocketAddr = "10.1.2.3:80".parse().unwrap();
        let v6: SocketAddr = "[::1]:8080".parse().unwrap();
        assert_eq!(addrs("10.1.2.3:80".target()), [v4]);
        assert_eq!(addrs(String::from("[::1]:8080").target()), [v6]);
        assert_eq!(addrs(("10.1.2.3", 80).target()), [v4]);
        assert_eq!(addrs(("::1", 8080).target()), [v6]);
        assert_eq!(addrs((v4.ip(), 80).target()), [v4]);
        assert_eq!(addrs(<&SocketAddr as Resolve>::target(&&v6)), [v6]);
        assert_eq!(addrs([v4, v6][..].target()), [v4, v6]);
    }

    #[test]
    fn names_go_to_the_resolver() {
        for target in [
            "localhost:80".target(),
            ("localhost", 80).target(),
            (String::from("localhost"), 80).target(),
        ] {
            match target.unwrap() {
                Target::Name(name, port) => assert_eq!((name.as_str(), port), ("localhost", 80)),
                other => panic!("expected a name, got {other:?}"),
            }
        }
    }

    #[test]
    fn malformed_addresses_fail_at_once() {
        for bad in ["localhost", "localhost:http", "10.0.0.1:70000", ""] {
            let err = bad.target().unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{bad:?}: {err}");
            assert!(err.to_string().contains("host:port"), "{bad:?}: {err}");
        }
    }
}
