//! One's profile through the real surface, on SQLite and PostgreSQL: a new
//! display name and status line reach every room of the person as a row
//! of its stream (live, and resumed by sync), the other person of a direct
//! room sees the new name and status in its summary; bad names and
//! statuses are refused with nothing changed; the notification default
//! applies to rooms joined afterwards.

use chat::error::ApiError;
use chat::groups::Change;
use chat::model::{Kind, Notify, Profile, RoomSummary};
use chat::protocol::{ClientFrame, ServerFrame};
use chat::server::Config;
use serde_json::json;

use crate::common::{self, api, api_err, sign_up, ws::connect, Node, TestServer};

/// A server on each database, taking many sign-ups from this one address.
async fn servers() -> Vec<(TestServer, Option<tempfile::TempDir>)> {
    let config = |url: &str| Config {
        signup_burst: 1_000,
        ..Config::for_database(url)
    };
    let (url, dir) = common::sqlite_url();
    let mut out = vec![(TestServer::start(config(&url)).await, Some(dir))];
    if let Some(pg) = common::postgres_url().await {
        out.push((TestServer::start(config(&pg)).await, None));
    }
    out
}

#[tokio::test]
async fn a_new_name_and_status_reach_every_room_as_a_row() {
    for (server, _dir) in servers().await {
        let (ann, a) = sign_up(&server, "ann").await;
        let (_, b) = sign_up(&server, "ben").await;
        let (_, c) = sign_up(&server, "cat").await;
        let direct: RoomSummary = api(&server, &b, "open_direct", json!({"handle": "ann"})).await;
        let group: RoomSummary = api(
            &server,
            &a,
            "create_group",
            json!({"name": "G", "members": ["cat"]}),
        )
        .await;
        let (mut bens, _) = connect(&server, &b).await;
        let (mut cats, _) = connect(&server, &c).await;

        let p: Profile = api(
            &server,
            &a,
            "update_profile",
            json!({"display_name": "  Annie  B ", "status": "On holiday"}),
        )
        .await;
        assert_eq!(
            (p.user.display_name.as_str(), p.status.as_str()),
            ("Annie B", "On holiday")
        );
        for (ws, room) in [(&mut bens, direct.id), (&mut cats, group.id)] {
            let row = ws
                .recv_until(|f| matches!(f, ServerFrame::Msg(m) if m.kind == Kind::Room))
                .await;
            let ServerFrame::Msg(row) = row else {
                unreachable!()
            };
            assert_eq!((row.room, row.sender, row.n), (room, ann.id, 0));
            assert_eq!(
                row.change,
                Some(Change::Profile {
                    user: chat::model::User {
                        display_name: "Annie B".into(),
                        ..ann.clone()
                    },
                    was: "ann".into(),
                    status: "On holiday".into(),
                    avatar: None,
                    deleted: false,
                    erased: false,
                })
            );
        }
        // The direct room's summary names her anew, with her status.
        let rooms: Vec<RoomSummary> = api(&server, &b, "my_rooms", json!({})).await;
        let d = rooms.iter().find(|r| r.id == direct.id).unwrap();
        assert_eq!(
            (d.name.as_str(), d.peer_status.as_str(), d.changed),
            ("Annie B", "On holiday", d.head_seq)
        );
        assert_eq!(d.unread(), 0, "a profile row is not a message");
        // Sync brings the row to a device that was away.
        bens.send(&ClientFrame::Sync {
            room: direct.id,
            after: 0,
            limit: None,
        })
        .await;
        let ServerFrame::Batch { msgs, .. } =
            bens.recv_until(|f| matches!(f, ServerFrame::Batch { .. })).await
        else {
            unreachable!()
        };
        assert!(msgs
            .iter()
            .any(|m| matches!(m.change, Some(Change::Profile { .. }))));

        // The same profile again writes nothing.
        let head = d.head_seq;
        let _: Profile = api(
            &server,
            &a,
            "update_profile",
            json!({"display_name": "Annie B", "status": "On holiday"}),
        )
        .await;
        let rooms: Vec<RoomSummary> = api(&server, &b, "my_rooms", json!({})).await;
        assert_eq!(rooms.iter().find(|r| r.id == direct.id).unwrap().head_seq, head);

        // Bad input: refused, nothing changed.
        for (name, status) in [
            ("", "x"),
            ("Ann\u{202e}", ""),
            ("A\u{200b}nn", ""),
            (&*"n".repeat(65), ""),
            ("Ann", &*"s".repeat(141)),
            ("Ann", "a\u{7}b"),
        ] {
            let err = api_err(
                &server,
                &a,
                "update_profile",
                json!({"display_name": name, "status": status}),
            )
            .await;
            assert!(
                matches!(err, ApiError::Invalid(_)),
                "{name:?} {status:?}: {err:?}"
            );
        }
        let now: Profile = api(&server, &a, "my_profile", json!({})).await;
        assert_eq!(now.user.display_name, "Annie B");
    }
}

#[tokio::test]
async fn the_notification_default_applies_to_rooms_joined_after_it() {
    for (server, _dir) in servers().await {
        let (_, a) = sign_up(&server, "ann").await;
        let (_, b) = sign_up(&server, "ben").await;
        let before: RoomSummary = api(
            &server,
            &a,
            "create_group",
            json!({"name": "Before", "members": ["ben"]}),
        )
        .await;
        let p: Profile = api(&server, &b, "set_notify_default", json!({"notify": "mentions"})).await;
        assert_eq!(p.notify_default, Notify::Mentions);
        let after: RoomSummary = api(
            &server,
            &a,
            "create_group",
            json!({"name": "After", "members": ["ben"]}),
        )
        .await;
        let direct: RoomSummary = api(&server, &a, "open_direct", json!({"handle": "ben"})).await;
        let rooms: Vec<RoomSummary> = api(&server, &b, "my_rooms", json!({})).await;
        let notify = |id| rooms.iter().find(|r| r.id == id).unwrap().notify;
        assert_eq!(notify(before.id), Notify::All, "rooms joined before keep theirs");
        assert_eq!(notify(after.id), Notify::Mentions);
        assert_eq!(notify(direct.id), Notify::Mentions);
        let mine: Vec<RoomSummary> = api(&server, &a, "my_rooms", json!({})).await;
        assert!(
            mine.iter().all(|r| r.notify == Notify::All),
            "ann's own default is untouched"
        );
    }
}

#[tokio::test]
async fn the_directory_finds_people_by_the_start_of_a_name_or_handle() {
    use chat::model::PeoplePage;
    for (server, _dir) in servers().await {
        let (_, me) = sign_up(&server, "ann").await;
        let (zoe, z) = sign_up(&server, "zoe_1").await;
        let (kim, k) = sign_up(&server, "kim").await;
        let (bob, _) = sign_up(&server, "bob").await;
        let _: Profile = api(
            &server,
            &z,
            "update_profile",
            json!({"display_name": "Zoë Müller", "status": "hi"}),
        )
        .await;
        let _: Profile = api(
            &server,
            &k,
            "update_profile",
            json!({"display_name": "김철수", "status": ""}),
        )
        .await;
        let find = |query: &str, after: Option<i64>| {
            let body = json!({"query": query, "after": after});
            let (server, me) = (&server, me.clone());
            async move {
                let page: PeoplePage = api(server, &me, "find_people", body).await;
                page
            }
        };
        let ids = |p: &PeoplePage| p.people.iter().map(|p| p.user.id).collect::<Vec<_>>();
        for query in ["zoe", "ZOË", "mull", "Müller", "zoe mü", "zoe_"] {
            assert_eq!(ids(&find(query, None).await), [zoe.id], "{query}");
        }
        assert_eq!(find("zoe", None).await.people[0].status, "hi");
        assert_eq!(ids(&find("김", None).await), [kim.id]);
        assert_eq!(ids(&find("김철", None).await), [kim.id]);
        assert_eq!(ids(&find("ki", None).await), [kim.id], "by handle");
        assert_eq!(ids(&find("bo", None).await), [bob.id]);
        assert!(find("zoe x", None).await.people.is_empty());
        assert!(find("ann", None).await.people.is_empty(), "never oneself");
        assert!(find("  ", None).await.people.is_empty());
        // Someone who blocks me is not found by me.
        let _: Vec<chat::model::User> = api(&server, &z, "block", json!({"user": 1})).await;
        assert!(find("zoe", None).await.people.is_empty());
        // A new name is found at once, the old one no more.
        let _: Profile = api(
            &server,
            &k,
            "update_profile",
            json!({"display_name": "Quincy", "status": ""}),
        )
        .await;
        assert_eq!(ids(&find("quin", None).await), [kim.id]);
        assert!(find("김", None).await.people.is_empty());
        // Pages of 20, by id.
        for i in 0..22 {
            sign_up(&server, &format!("pat_{i}")).await;
        }
        let first = find("pat", None).await;
        assert_eq!(first.people.len(), 20);
        let second = find("pat", first.next).await;
        assert_eq!((second.people.len(), second.next), (2, None));
        // Past the allowance (20 a minute), a clear 429.
        let mut refused = None;
        for _ in 0..25 {
            let res = reqwest::Client::new()
                .post(server.url("/api/find_people"))
                .header("cookie", &me)
                .json(&json!({"query": "pat"}))
                .send()
                .await
                .unwrap();
            if res.status() == 429 {
                refused = Some(res.text().await.unwrap());
                break;
            }
        }
        assert!(
            refused.is_some_and(|t| t.contains("looking for people")),
            "limited per person"
        );
    }
}

/// An image of `w`×`h` as PNG: red on its left third, green in the middle.
fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, _| match 3 * x / w {
        0 => image::Rgb([255, 0, 0]),
        1 => image::Rgb([0, 255, 0]),
        _ => image::Rgb([0, 0, 255]),
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut out, image::ImageFormat::Png)
        .unwrap();
    out.into_inner()
}

/// `PUT` (with `body`) or `DELETE` on `path` as `cookie`: status and text.
async fn picture(server: &TestServer, cookie: &str, path: &str, body: Option<Vec<u8>>) -> (u16, String) {
    let client = reqwest::Client::new();
    let req = match body {
        Some(body) => client.put(server.url(path)).body(body),
        None => client.delete(server.url(path)),
    };
    let res = req.header("cookie", cookie).send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

async fn fetch_picture(server: &TestServer, cookie: Option<&str>, id: &str) -> (u16, Vec<u8>) {
    let mut req = reqwest::Client::new().get(server.url(&chat::model::avatar_url(id)));
    if let Some(cookie) = cookie {
        req = req.header("cookie", cookie);
    }
    let res = req.send().await.unwrap();
    (res.status().as_u16(), res.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn a_picture_is_a_square_that_reaches_every_room_and_replaces_the_last() {
    for (server, _dir) in servers().await {
        let (ann, a) = sign_up(&server, "ann").await;
        let (_, b) = sign_up(&server, "ben").await;
        let (_, c) = sign_up(&server, "cat").await;
        let direct: RoomSummary = api(&server, &b, "open_direct", json!({"handle": "ann"})).await;
        let (mut bens, _) = connect(&server, &b).await;

        // Not an image, nobody signed in, another site: refused, nothing kept.
        assert_eq!(
            picture(&server, &a, "/avatars/mine", Some(b"hello".to_vec()))
                .await
                .0,
            415
        );
        assert_eq!(
            picture(&server, "", "/avatars/mine", Some(png(30, 30))).await.0,
            401
        );
        let foreign = reqwest::Client::new()
            .put(server.url("/avatars/mine"))
            .header("cookie", &a)
            .header("origin", "https://evil.example")
            .body(png(30, 30))
            .send()
            .await
            .unwrap();
        assert_eq!(foreign.status().as_u16(), 403);
        let p: Profile = api(&server, &a, "my_profile", json!({})).await;
        assert_eq!(p.avatar, None);

        let (status, text) = picture(&server, &a, "/avatars/mine", Some(png(600, 200))).await;
        assert_eq!(status, 200, "{text}");
        let p: Profile = serde_json::from_str(&text).unwrap();
        let first = p.avatar.clone().expect("a picture");
        // Ben sees it live, on the direct room's stream…
        let row = bens
            .recv_until(|f| matches!(f, ServerFrame::Msg(m) if m.kind == Kind::Room))
            .await;
        let ServerFrame::Msg(row) = row else {
            unreachable!()
        };
        assert_eq!(row.room, direct.id);
        assert!(
            matches!(&row.change, Some(Change::Profile { user, avatar: Some(x), .. }) if user.id == ann.id && *x == first),
            "{row:?}"
        );
        // … in the room's summary, and may fetch it: the middle square.
        let rooms: Vec<RoomSummary> = api(&server, &b, "my_rooms", json!({})).await;
        assert_eq!(rooms[0].avatar.as_deref(), Some(first.as_str()));
        let (status, bytes) = fetch_picture(&server, Some(&c), &first).await;
        assert_eq!(status, 200);
        let img = image::load_from_memory(&bytes).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), (256, 256));
        let image::Rgb([r, g, _]) = *img.get_pixel(10, 128);
        assert!(g > 200 && r < 60, "the middle third, not the left: {r},{g}");
        assert_eq!(
            fetch_picture(&server, None, &first).await.0,
            404,
            "signed in only"
        );

        // A new one replaces it, and the old bytes go.
        let (status, text) = picture(&server, &a, "/avatars/mine", Some(png(64, 64))).await;
        assert_eq!(status, 200, "{text}");
        let second = serde_json::from_str::<Profile>(&text).unwrap().avatar.unwrap();
        assert_ne!(second, first);
        assert_eq!(fetch_picture(&server, Some(&b), &first).await.0, 404);
        assert_eq!(fetch_picture(&server, Some(&b), &second).await.0, 200);
        // Removed: initials again, everywhere.
        let (status, text) = picture(&server, &a, "/avatars/mine", None).await;
        assert_eq!(status, 200, "{text}");
        assert_eq!(serde_json::from_str::<Profile>(&text).unwrap().avatar, None);
        let rooms: Vec<RoomSummary> = api(&server, &b, "my_rooms", json!({})).await;
        assert_eq!(rooms[0].avatar, None);
        assert_eq!(fetch_picture(&server, Some(&b), &second).await.0, 404);
    }
}

#[tokio::test]
async fn a_groups_picture_is_set_by_its_admins_only() {
    for (server, _dir) in servers().await {
        let (_, a) = sign_up(&server, "ann").await;
        let (_, b) = sign_up(&server, "ben").await;
        let (_, c) = sign_up(&server, "cat").await;
        let group: RoomSummary = api(
            &server,
            &a,
            "create_group",
            json!({"name": "G", "members": ["ben"]}),
        )
        .await;
        let path = format!("/avatars/room/{}", group.id);
        let (mut bens, _) = connect(&server, &b).await;

        let (status, text) = picture(&server, &b, &path, Some(png(40, 40))).await;
        assert_eq!(status, 403, "a member may not: {text}");
        assert_eq!(
            picture(&server, &c, &path, Some(png(40, 40))).await.0,
            403,
            "nor someone outside"
        );
        let (status, text) = picture(&server, &a, "/avatars/room/999999", Some(png(40, 40))).await;
        assert_eq!(status, 404, "{text}");
        let rooms: Vec<RoomSummary> = api(&server, &b, "my_rooms", json!({})).await;
        assert_eq!(
            (rooms[0].avatar.as_ref(), rooms[0].head_seq),
            (None, group.head_seq)
        );

        let (status, text) = picture(&server, &a, &path, Some(png(40, 40))).await;
        assert_eq!(status, 200, "{text}");
        let set: RoomSummary = serde_json::from_str(&text).unwrap();
        let id = set.avatar.clone().expect("a picture");
        let row = bens
            .recv_until(|f| matches!(f, ServerFrame::Msg(m) if m.kind == Kind::Room))
            .await;
        let ServerFrame::Msg(row) = row else {
            unreachable!()
        };
        assert_eq!(
            row.change,
            Some(Change::Avatar {
                avatar: Some(id.clone())
            })
        );
        assert_eq!(fetch_picture(&server, Some(&b), &id).await.0, 200);
        let (status, _) = picture(&server, &a, &path, None).await;
        assert_eq!(status, 200);
        let rooms: Vec<RoomSummary> = api(&server, &b, "my_rooms", json!({})).await;
        assert_eq!(rooms[0].avatar, None);
        assert_eq!(fetch_picture(&server, Some(&b), &id).await.0, 404);
    }
}
