//! Probing, verifying and thumbnailing real files that ffmpeg generates at test time.

mod support;

use support::{make_video, truncate};
use twitcher_core::media::{self, Container, ProbeError};

#[tokio::test]
async fn every_supported_format_is_recognized_by_content_with_its_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("mp4", Container::Mp4, "h264", Some("aac")),
        ("mov", Container::Mov, "h264", Some("aac")),
        ("webm", Container::Webm, "vp9", Some("opus")),
        ("ogg", Container::Ogg, "theora", Some("vorbis")),
        ("avi", Container::Avi, "mpeg4", Some("mp3")),
        ("wmv", Container::Wmv, "wmv2", Some("wmav2")),
        ("flv", Container::Flv, "flv1", Some("mp3")),
    ];
    for (ext, container, video, audio) in cases {
        let path = make_video(dir.path(), "clip", ext, &[]);
        // The extension does not decide: the same bytes under a misleading name.
        let renamed = dir.path().join(format!("misnamed-{ext}.bin"));
        std::fs::rename(&path, &renamed).unwrap();
        let info = media::probe(&renamed).await.unwrap_or_else(|e| panic!("{ext}: {e}"));
        assert_eq!(info.container, container, "{ext}");
        assert_eq!((info.width, info.height), (640, 360), "{ext}");
        assert_eq!(info.codec_video, video, "{ext}");
        assert_eq!(info.codec_audio.as_deref(), audio, "{ext}");
        assert!((info.duration_sec - 4.0).abs() < 0.3, "{ext}: {}", info.duration_sec);
        assert!((info.fps - 25.0).abs() < 0.01 || ext == "wmv" || ext == "flv", "{ext}: {}", info.fps);
        media::verify(&renamed, &info).await.unwrap_or_else(|e| panic!("{ext}: {e}"));
        let thumb = dir.path().join(format!("{ext}.jpg"));
        media::thumbnail(&renamed, info.duration_sec * 0.1, &thumb).await.unwrap();
        assert_eq!(&std::fs::read(&thumb).unwrap()[..2], &[0xFF, 0xD8], "{ext}: a JPEG");
    }
}

#[tokio::test]
async fn bad_inputs_get_errors_that_say_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.mp4");
    std::fs::write(&empty, b"").unwrap();
    assert!(matches!(media::probe(&empty).await, Err(ProbeError::Empty)));

    let text = dir.path().join("notes.avi");
    std::fs::write(&text, "just some text, not a video at all\n".repeat(100)).unwrap();
    assert!(matches!(media::probe(&text).await, Err(ProbeError::Unreadable(_))));

    let audio_only = dir.path().join("tone.ogg");
    let made = twitcher_testkit::output_within(
        std::process::Command::new("ffmpeg").args(["-v", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=440", "-t", "2", "-c:a", "libvorbis"]).arg(&audio_only),
        std::time::Duration::from_secs(60),
    );
    assert!(made.status.success());
    let err = media::probe(&audio_only).await.unwrap_err();
    assert_eq!(err.to_string(), "no video stream found");

    let mkv = make_video(dir.path(), "clip", "mkv", &[]);
    assert!(matches!(media::probe(&mkv).await, Err(ProbeError::Unsupported(_))));
}

#[tokio::test]
async fn a_truncated_file_is_caught_even_when_its_headers_look_whole() {
    let dir = tempfile::tempdir().unwrap();
    // moov first: ffprobe reads the full duration from the header; the data stops halfway.
    let faststart = make_video(dir.path(), "faststart", "mp4", &["-movflags", "+faststart"]);
    let info = media::probe(&faststart).await.unwrap();
    truncate(&faststart, 0.5);
    let err = media::verify(&faststart, &media::probe(&faststart).await.unwrap_or(info)).await.unwrap_err();
    match err {
        ProbeError::Truncated { percent } => assert!((20..=80).contains(&percent), "{percent}"),
        other => panic!("{other:?}"),
    }
    // moov last: nothing readable at all.
    let plain = make_video(dir.path(), "plain", "mp4", &[]);
    truncate(&plain, 0.5);
    assert!(matches!(media::probe(&plain).await, Err(ProbeError::Unreadable(_))));
    // An AVI cut short.
    let avi = make_video(dir.path(), "cut", "avi", &[]);
    let info = media::probe(&avi).await.unwrap();
    truncate(&avi, 0.4);
    let after = media::probe(&avi).await.unwrap_or(info);
    assert!(media::verify(&avi, &after).await.is_err());
}
