//! `weft::fs`: whole-file helpers, directories, and `File` with owned buffers, all on the
//! blocking pool; the loop keeps running meanwhile, and operations on one file stay in order
//! even when a future is dropped mid-operation.

mod util;

use std::future::Future;
use std::io::{ErrorKind, SeekFrom};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use util::{payload, run, Checksum};
use weft::fs::{self, File, OpenOptions};

/// A fresh directory under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("weft-fs-{}-{name}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("creating a temp dir");
        TempDir(dir)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn whole_file_helpers_round_trip_and_report_metadata() {
    let dir = TempDir::new("whole");
    run(async {
        let path = dir.join("data.bin");
        let data = payload(1, 100_000);
        fs::write(&path, &data).await.unwrap();
        assert_eq!(fs::read(&path).await.unwrap(), data);
        assert_eq!(fs::metadata(&path).await.unwrap().len(), 100_000);

        fs::write(dir.join("text"), "héllo").await.unwrap();
        assert_eq!(fs::read_to_string(dir.join("text")).await.unwrap(), "héllo");
        let err = fs::read_to_string(&path).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidData, "{err}");

        assert_eq!(fs::copy(&path, dir.join("copy")).await.unwrap(), 100_000);
        fs::rename(dir.join("copy"), dir.join("moved"))
            .await
            .unwrap();
        assert_eq!(fs::read(dir.join("moved")).await.unwrap(), data);

        fs::remove_file(&path).await.unwrap();
        let err = fs::metadata(&path).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
        assert_eq!(
            fs::read(dir.join("missing")).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
    });
}

#[test]
fn directories_are_created_listed_and_removed() {
    let dir = TempDir::new("dirs");
    run(async {
        let nested = dir.join("a/b/c");
        fs::create_dir_all(&nested).await.unwrap();
        assert!(fs::metadata(&nested).await.unwrap().is_dir());
        assert_eq!(
            fs::create_dir(&nested).await.unwrap_err().kind(),
            ErrorKind::AlreadyExists
        );

        // More entries than one batch, to cross a pool trip.
        let files: Vec<String> = (0..70).map(|i| format!("f{i:02}")).collect();
        for name in &files {
            fs::write(nested.join(name), name).await.unwrap();
        }
        fs::create_dir(nested.join("sub")).await.unwrap();

        let mut listed = Vec::new();
        let mut entries = fs::read_dir(&nested).await.unwrap();
        while let Some(entry) = entries.next_entry().await.unwrap() {
            let name = entry.file_name().into_string().unwrap();
            assert_eq!(entry.path(), nested.join(&name));
            let is_dir = entry.file_type().await.unwrap().is_dir();
            assert_eq!(is_dir, name == "sub", "{name}");
            if !is_dir {
                assert_eq!(entry.metadata().await.unwrap().len(), 3);
            }
            listed.push(name);
        }
        assert!(entries.next_entry().await.unwrap().is_none(), "ended twice");
        listed.sort();
        let mut expected = files.clone();
        expected.push("sub".into());
        assert_eq!(listed, expected);

        assert_eq!(
            fs::remove_dir(dir.join("a")).await.unwrap_err().kind(),
            ErrorKind::DirectoryNotEmpty
        );
        fs::remove_dir_all(dir.join("a")).await.unwrap();
        assert!(fs::read_dir(dir.path())
            .await
            .unwrap()
            .next_entry()
            .await
            .unwrap()
            .is_none());
    });
}

#[test]
fn read_dir_is_a_stream() {
    let dir = TempDir::new("stream");
    std::fs::write(dir.join("one"), "1").unwrap();
    std::fs::write(dir.join("two"), "2").unwrap();
    run(async {
        let mut entries = fs::read_dir(dir.path()).await.unwrap();
        let mut names = Vec::new();
        while let Some(entry) =
            std::future::poll_fn(|cx| futures_core::Stream::poll_next(Pin::new(&mut entries), cx))
                .await
        {
            names.push(entry.unwrap().file_name());
        }
        names.sort();
        assert_eq!(names, ["one", "two"]);
    });
}

#[test]
fn a_file_writes_seeks_reads_and_syncs_with_owned_buffers() {
    let dir = TempDir::new("file");
    run(async {
        let path = dir.join("f");
        let mut file = File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .await
            .unwrap();
        let data = payload(7, 200_000);
        let (written, back) = file.write_all(data.clone()).await;
        written.unwrap();
        assert_eq!(back, data, "the buffer comes back");
        file.sync_all().await.unwrap();
        assert_eq!(file.metadata().await.unwrap().len(), 200_000);

        assert_eq!(file.seek(SeekFrom::Start(1000)).await.unwrap(), 1000);
        let (n, buf) = file.read(Vec::with_capacity(4096)).await;
        assert_eq!(n.unwrap(), 4096);
        assert_eq!(buf, data[1000..5096]);

        // Reads reuse the returned buffer; its capacity bounds each read.
        let mut sum = Checksum::of(&data[..5096]);
        let mut buf = buf;
        loop {
            let (n, back) = file.read(buf).await;
            buf = back;
            if n.unwrap() == 0 {
                break;
            }
            assert_eq!(buf.capacity(), 4096);
            sum.update(&buf);
        }
        assert_eq!(sum, Checksum::of(&data));
        let (n, _) = file.read(Vec::new()).await;
        assert_eq!(n.unwrap(), 0, "no capacity, nothing read");

        file.seek(SeekFrom::Start(0)).await.unwrap();
        let (n, all) = file.read_to_end(b"prefix".to_vec()).await;
        assert_eq!(n.unwrap(), 200_000);
        assert_eq!(&all[..6], b"prefix");
        assert_eq!(all[6..], data[..]);

        file.set_len(10).await.unwrap();
        file.sync_data().await.unwrap();
        let std = file.into_std().await;
        assert_eq!(std.metadata().unwrap().len(), 10);
    });
}

#[test]
fn create_truncates_open_reads_and_append_appends() {
    let dir = TempDir::new("modes");
    run(async {
        let path = dir.join("log");
        std::fs::write(&path, "old contents").unwrap();
        let mut file = File::create(&path).await.unwrap();
        let (n, _) = file.write(b"new".to_vec()).await;
        assert_eq!(n.unwrap(), 3);
        drop(file);
        let mut log = OpenOptions::new().append(true).open(&path).await.unwrap();
        log.write_all(b"+more".to_vec()).await.0.unwrap();
        drop(log);
        let mut file = File::open(&path).await.unwrap();
        let (_, text) = file.read_to_end(Vec::new()).await;
        assert_eq!(text, b"new+more");
        let (written, _) = file.write_all(b"nope".to_vec()).await;
        assert!(
            written.is_err(),
            "a file opened for reading accepted a write"
        );
        assert_eq!(
            File::open(dir.join("absent")).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
    });
}

#[test]
fn a_batch_runs_several_operations_in_one_trip() {
    let dir = TempDir::new("batch");
    run(async {
        let mut file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(dir.join("b"))
            .await
            .unwrap();
        let loop_thread = std::thread::current().id();
        let (text, thread) = file
            .batch(|mut f| {
                use std::io::{Read, Seek, Write};
                f.write_all(b"abc").unwrap();
                f.seek(SeekFrom::Start(1)).unwrap();
                let mut s = String::new();
                f.read_to_string(&mut s).unwrap();
                (s, std::thread::current().id())
            })
            .await
            .unwrap();
        assert_eq!(text, "bc");
        assert_ne!(thread, loop_thread, "the batch ran on the loop thread");
    });
}

#[test]
fn an_operation_dropped_mid_flight_finishes_before_the_next_one() {
    let dir = TempDir::new("order");
    run(async {
        let path = dir.join("o");
        let mut file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .await
            .unwrap();
        let data = payload(3, 4 << 20);
        {
            // Start a large write and abandon it after its first poll.
            let write = file.write_all(data.clone());
            let mut write = std::pin::pin!(write);
            // (A 4 MiB write is still running after one poll, bar a very fast disk.)
            let _ = std::future::poll_fn(|cx| Poll::Ready(write.as_mut().poll(cx))).await;
        }
        // The seek waits for the abandoned write: the position is after it, not 0.
        assert_eq!(file.seek(SeekFrom::Current(0)).await.unwrap(), 4 << 20);
        file.seek(SeekFrom::Start(0)).await.unwrap();
        let (n, back) = file.read_to_end(Vec::new()).await;
        assert_eq!(n.unwrap(), 4 << 20);
        assert!(back == data, "the abandoned write's data differs");
    });
}

#[test]
fn file_io_leaves_the_loop_free() {
    let dir = TempDir::new("free");
    run(async {
        let ticks = std::sync::Arc::new(AtomicUsize::new(0));
        let ticker = weft::spawn({
            let ticks = ticks.clone();
            async move {
                loop {
                    weft::time::sleep(Duration::from_millis(1)).await;
                    ticks.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
        let path = dir.join("big");
        let data = payload(9, 1 << 20);
        for _ in 0..20 {
            fs::write(&path, &data).await.unwrap();
            assert_eq!(fs::read(&path).await.unwrap().len(), 1 << 20);
        }
        ticker.abort();
        assert!(ticks.load(Ordering::SeqCst) > 0, "the loop never ticked");
    });
}

#[test]
fn fs_calls_outside_a_runtime_fail_instead_of_blocking() {
    // Poll once with a no-op waker, on a thread with no runtime.
    let fut = fs::metadata("/");
    let mut fut = std::pin::pin!(fut);
    let mut cx = Context::from_waker(std::task::Waker::noop());
    match fut.as_mut().poll(&mut cx) {
        Poll::Ready(Err(e)) => assert!(e.to_string().contains("runtime"), "{e}"),
        other => panic!("expected an error, got {other:?}"),
    }
}
