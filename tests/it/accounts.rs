//! Deleting one's account through the real surface, on SQLite and
//! PostgreSQL: the password is asked; the person's messages stay under
//! "Deleted account" (or, when the server is set to, are erased with their
//! search documents); every room of theirs hears of it as a row, live; they
//! leave their groups (the owner's passing on); their sessions end, live
//! sockets included, and they can no longer log in, be found or be seen
//! with their picture; the handle is free again.

use chat::error::ApiError;
use chat::groups::Change;
use chat::model::{Kind, PeoplePage, Profile, Role, RoomSummary, SearchPage, DELETED_ACCOUNT};
use chat::protocol::{ClientFrame, ErrorCode, Message, ServerFrame};
use chat::server::Config;
use serde_json::json;

use crate::common::{self, api, api_err, sign_up, ws::connect, ws::Ws, Node, TestServer};

async fn servers(erase: bool) -> Vec<(TestServer, Option<tempfile::TempDir>)> {
    let config = |url: &str| Config {
        erase_deleted_accounts: erase,
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

/// The room's rows from the start, as a reconnecting device gets them.
async fn history(ws: &mut Ws, room: i64) -> Vec<Message> {
    ws.send(&ClientFrame::Sync {
        room,
        after: 0,
        limit: None,
    })
    .await;
    match ws
        .recv_until(|f| matches!(f, ServerFrame::Batch { room: r, .. } if *r == room))
        .await
    {
        ServerFrame::Batch { msgs, .. } => msgs,
        _ => unreachable!(),
    }
}

/// The `Profile` row of a deleted account that `ws` gets in `room`.
async fn deleted_row(ws: &mut Ws, room: i64) -> (bool, Message) {
    let row = ws
        .recv_until(|f| matches!(f, ServerFrame::Msg(m) if m.room == room && m.kind == Kind::Room))
        .await;
    let ServerFrame::Msg(row) = row else {
        unreachable!()
    };
    match &row.change {
        Some(Change::Profile {
            user,
            deleted: true,
            erased,
            ..
        }) => {
            assert_eq!(user.display_name, DELETED_ACCOUNT);
            assert!(chat::model::is_deleted_handle(&user.handle), "{user:?}");
            (*erased, row)
        }
        other => panic!("{other:?}"),
    }
}

fn png() -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(32, 32, image::Rgb([9, 99, 199])))
        .write_to(&mut out, image::ImageFormat::Png)
        .unwrap();
    out.into_inner()
}

#[tokio::test]
async fn a_deleted_account_leaves_its_messages_under_a_new_name_and_nothing_else() {
    for (server, _dir) in servers(false).await {
        let (ann, a) = sign_up(&server, "ann").await;
        let (_, b) = sign_up(&server, "ben").await;
        let (_, c) = sign_up(&server, "cat").await;
        let direct: RoomSummary = api(&server, &b, "open_direct", json!({"handle": "ann"})).await;
        let group: RoomSummary = api(
            &server,
            &a,
            "create_group",
            json!({"name": "G", "members": ["ben", "cat"]}),
        )
        .await;
        let res = reqwest::Client::new()
            .put(server.url("/avatars/mine"))
            .header("cookie", &a)
            .body(png())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 200);
        let picture = res.json::<Profile>().await.unwrap().avatar.unwrap();
        let (mut anns, _) = connect(&server, &a).await;
        anns.say(direct.id, "see you at nine").await;
        anns.say(group.id, "plans for the trip").await;
        let (mut bens, _) = connect(&server, &b).await;

        // The password is asked; a wrong one changes nothing.
        let e = api_err(&server, &a, "delete_account", json!({"password": "not it"})).await;
        assert!(
            matches!(e, ApiError::Invalid(ref t) if t.contains("not right")),
            "{e:?}"
        );
        let _: () = api(
            &server,
            &a,
            "delete_account",
            json!({"password": "correct horse"}),
        )
        .await;

        // Her socket is told and closed; her session is gone.
        match anns.recv_until(|f| matches!(f, ServerFrame::Error { .. })).await {
            ServerFrame::Error {
                code: ErrorCode::Unauthenticated,
                ..
            } => {}
            other => panic!("{other:?}"),
        }
        let me: Option<chat::model::User> = api(&server, &a, "me", json!({})).await;
        assert_eq!(me, None);
        let e = api_err(
            &server,
            "",
            "log_in",
            json!({"handle": "ann", "password": "correct horse"}),
        )
        .await;
        assert!(matches!(e, ApiError::WrongCredentials), "{e:?}");
        let e = api_err(
            &server,
            "",
            "log_in",
            json!({"handle": format!("_deleted_{}", ann.id), "password": "!"}),
        )
        .await;
        assert!(
            matches!(e, ApiError::WrongCredentials),
            "not under its new handle either: {e:?}"
        );

        // Ben hears of it in both rooms, live; she left the group, and he
        // (the longest-standing member) owns it now.
        let (erased, _) = deleted_row(&mut bens, direct.id).await;
        assert!(!erased);
        let (_, row) = deleted_row(&mut bens, group.id).await;
        let left = bens
            .recv_until(|f| matches!(f, ServerFrame::Msg(m) if m.room == group.id && m.seq > row.seq))
            .await;
        let ServerFrame::Msg(left) = left else {
            unreachable!()
        };
        assert!(
            matches!(&left.change, Some(Change::Left { owner: Some(o) }) if o.handle == "ben"),
            "{left:?}"
        );
        let rooms: Vec<RoomSummary> = api(&server, &b, "my_rooms", json!({})).await;
        let d = rooms.iter().find(|r| r.id == direct.id).unwrap();
        assert_eq!((d.name.as_str(), d.avatar.as_ref()), (DELETED_ACCOUNT, None));
        let g = rooms.iter().find(|r| r.id == group.id).unwrap();
        assert_eq!((g.role, g.member_count), (Role::Owner, 2));

        // Her messages stay, under the new name, and are still found.
        let msgs = history(&mut bens, direct.id).await;
        let hers: Vec<&str> = msgs
            .iter()
            .filter(|m| m.sender == ann.id && m.kind == Kind::Message)
            .map(|m| m.body.as_str())
            .collect();
        assert_eq!(hers, ["see you at nine"]);
        let found: SearchPage = api(
            &server,
            &b,
            "search",
            json!({"query": "nine", "room": null, "next": null, "offset_min": 0}),
        )
        .await;
        assert_eq!(found.hits.len(), 1);

        // Not found, not shown, and her handle is free.
        let people: PeoplePage =
            api(&server, &c, "find_people", json!({"query": "ann", "after": null})).await;
        assert!(people.people.is_empty(), "{people:?}");
        let shown = reqwest::Client::new()
            .get(server.url(&chat::model::avatar_url(&picture)))
            .header("cookie", &b)
            .send()
            .await
            .unwrap();
        assert_eq!(shown.status().as_u16(), 404);
        let (again, _) = sign_up(&server, "ann").await;
        assert_ne!(again.id, ann.id);
    }
}

#[tokio::test]
async fn a_server_set_to_erase_erases_the_text_of_a_deleted_account() {
    for (server, _dir) in servers(true).await {
        let (ann, a) = sign_up(&server, "ann").await;
        let (_, b) = sign_up(&server, "ben").await;
        let direct: RoomSummary = api(&server, &b, "open_direct", json!({"handle": "ann"})).await;
        let (mut anns, _) = connect(&server, &a).await;
        anns.say(direct.id, "the secret recipe").await;
        let (mut bens, _) = connect(&server, &b).await;
        bens.say(direct.id, "tell me the recipe").await;
        let _: () = api(
            &server,
            &a,
            "delete_account",
            json!({"password": "correct horse"}),
        )
        .await;

        let (erased, _) = deleted_row(&mut bens, direct.id).await;
        assert!(erased, "the row says the texts are gone");
        let msgs = history(&mut bens, direct.id).await;
        let hers: Vec<&Message> = msgs
            .iter()
            .filter(|m| m.sender == ann.id && m.kind == Kind::Message)
            .collect();
        assert_eq!(hers.len(), 1);
        assert!(hers[0].deleted && hers[0].body.is_empty(), "{:?}", hers[0]);
        let mine = msgs.iter().find(|m| m.body == "tell me the recipe");
        assert!(mine.is_some(), "Ben's stay");
        let found: SearchPage = api(
            &server,
            &b,
            "search",
            json!({"query": "secret", "room": null, "next": null, "offset_min": 0}),
        )
        .await;
        assert!(found.hits.is_empty(), "{:?}", found.hits);
        let rooms: Vec<RoomSummary> = api(&server, &b, "my_rooms", json!({})).await;
        assert_eq!(rooms[0].preview.as_deref(), Some("tell me the recipe"));
    }
}
