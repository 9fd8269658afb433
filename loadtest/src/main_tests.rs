//! Tests of the command line: flags become the scenarios they say.

use super::*;

#[test]
fn durations() {
    assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
    assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
    assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
    assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
    assert!(parse_duration("s").is_err());
    assert!(parse_duration("5h").is_err());
}

#[test]
fn flags_become_scenarios() {
    let cli = Cli::try_parse_from([
        "t",
        "class",
        "--rooms",
        "5",
        "--students",
        "3",
        "--students-video",
        "off",
        "--duration",
        "2s",
        "--seed",
        "9",
    ])
    .expect("valid flags");
    let Command::Scenario(command) = cli.command else {
        panic!("a scenario")
    };
    let (spec, _, _) = scenario(command);
    assert_eq!(spec.room_sizes(), [4; 5]);
    assert_eq!(
        (spec.participant.audio, spec.participant.video),
        (true, None)
    );
    assert_eq!((spec.duration, spec.seed), (Duration::from_secs(2), 9));
    assert_eq!(spec.host, Media::simulcast([150, 450, 1200]));
    assert!(spec.simulcast && spec.views);
    assert_eq!(spec.thumbnails, 9);
    let cli = Cli::try_parse_from([
        "t",
        "class",
        "--teacher-kbps",
        "1500",
        "--student-kbps",
        "100,200,300",
        "--simulcast",
        "off",
        "--views",
        "off",
        "--thumbnails",
        "4",
    ])
    .expect("valid flags");
    let Command::Scenario(command) = cli.command else {
        panic!("a scenario")
    };
    let (spec, _, _) = scenario(command);
    assert_eq!(spec.host, Media::camera(1500));
    assert_eq!(spec.participant, Media::simulcast([100, 200, 300]));
    assert!(!spec.simulcast && !spec.views);
    assert_eq!(spec.thumbnails, 4);
    let cli = Cli::try_parse_from(["t", "surge", "--participants", "30", "--within", "3s"])
        .expect("valid flags");
    let Command::Scenario(command) = cli.command else {
        panic!("a scenario")
    };
    let (spec, _, _) = scenario(command);
    assert_eq!(spec.within, Some(Duration::from_secs(3)));
    assert_eq!(spec.room_sizes().iter().sum::<usize>(), 30);
}

#[test]
fn churn_flags_become_a_churn_scenario() {
    let cli = Cli::try_parse_from([
        "t",
        "churn",
        "--rooms",
        "2",
        "--participants",
        "4",
        "--churn-per-min",
        "30",
        "--resume-share",
        "0.25",
        "--duration",
        "20s",
    ])
    .expect("valid flags");
    let Command::Scenario(command) = cli.command else {
        panic!("a scenario")
    };
    let (spec, _, _) = scenario(command);
    assert_eq!(spec.kind, Kind::Churn);
    assert_eq!(spec.room_sizes(), [4, 4]);
    assert_eq!((spec.churn.per_min, spec.churn.resume_share), (30.0, 0.25));
    assert_eq!(spec.duration, Duration::from_secs(20));
    assert!(spec.validate().is_ok());
    let cli = Cli::try_parse_from(["t", "churn"]).expect("valid flags");
    let Command::Scenario(command) = cli.command else {
        panic!("a scenario")
    };
    let (spec, _, _) = scenario(command);
    assert_eq!(spec.room_sizes(), [10; 5]);
    assert!(spec.validate().is_ok(), "the defaults run");
    let cli = Cli::try_parse_from(["t", "churn", "--duration", "10s"]).expect("valid flags");
    let Command::Scenario(command) = cli.command else {
        panic!("a scenario")
    };
    let (short, _, _) = scenario(command);
    assert!(
        short.validate().is_err(),
        "no room for warm-up and cool-down"
    );
}

#[test]
fn bandwidth_scenarios_take_their_flags() {
    let cli = Cli::try_parse_from([
        "t",
        "impair",
        "--duration",
        "20s",
        "--profile",
        "0:1,10:0.6",
        "--queue-ms",
        "200",
        "--plot",
        "/tmp/x.svg",
    ])
    .expect("valid flags");
    let Command::Scenario(command) = cli.command else {
        panic!("a scenario")
    };
    let (spec, _, plot) = scenario(command);
    assert_eq!(spec.kind, Kind::Impair);
    assert_eq!(spec.room_sizes(), [7]);
    assert_eq!(spec.impair.queue, Duration::from_millis(200));
    assert_eq!(spec.impair.profile(spec.duration).steps.len(), 2);
    assert_eq!(plot, Some(PathBuf::from("/tmp/x.svg")));
    assert!(spec.validate().is_ok());
    let cli = Cli::try_parse_from(["t", "impair"]).expect("valid flags");
    let Command::Scenario(command) = cli.command else {
        panic!("a scenario")
    };
    let (spec, _, _) = scenario(command);
    assert_eq!(spec.duration, Duration::from_secs(100));
    let rfc = spec.impair.profile(spec.duration);
    assert_eq!(rfc, aula_loadtest::link::Profile::rfc8867(spec.duration));

    let cli =
        Cli::try_parse_from(["t", "budget", "--egress-limit-mbps", "12"]).expect("valid flags");
    let Command::Scenario(command) = cli.command else {
        panic!("a scenario")
    };
    let (spec, _, _) = scenario(command);
    assert_eq!(spec.room_sizes(), [10; 3]);
    assert_eq!(spec.server_flags(), ["--egress-limit-mbps", "12"]);
    let cli = Cli::try_parse_from([
        "t",
        "lecture",
        "--server-arg=--bandwidth-adaptation",
        "--server-arg=false",
    ])
    .expect("valid flags");
    let Command::Scenario(command) = cli.command else {
        panic!("a scenario")
    };
    let (spec, _, _) = scenario(command);
    assert_eq!(spec.server_flags(), ["--bandwidth-adaptation", "false"]);

    let cli = Cli::try_parse_from(["t", "morning", "--aula", "target/release/aula"])
        .expect("valid flags");
    let Command::Morning {
        rooms, students, ..
    } = cli.command
    else {
        panic!("morning")
    };
    assert_eq!((rooms, students), (5, 29));
    assert!(
        Cli::try_parse_from(["t", "morning"]).is_err(),
        "needs --aula"
    );
    assert!(Cli::try_parse_from(["t", "impair", "--profile", "5:1"]).is_err());
}

#[test]
fn wrong_flags_are_refused() {
    assert!(Cli::try_parse_from(["t", "class", "--students-video", "maybe"]).is_err());
    assert!(Cli::try_parse_from(["t", "lecture", "--rooms", "2"]).is_err());
    assert!(Cli::try_parse_from(["t", "meeting", "--duration", "5h"]).is_err());
    let both = ["t", "class", "--server-pid", "1", "--start-server", "/x"];
    assert!(Cli::try_parse_from(both).is_err());
    assert!(Cli::try_parse_from(["t", "churn", "--churn-per-min", "often"]).is_err());
    assert!(Cli::try_parse_from(["t", "lecture", "--teacher-kbps", "150,450"]).is_err());
    assert!(Cli::try_parse_from(["t", "meeting", "--video-kbps", "fast"]).is_err());
}
