//! `--format junit`: one testsuite per endpoint, one testcase per check (`kind target`).
//! Failures carry the reason code as their type; warnings pass with the warning in system-out;
//! skips are skipped. Read by GitLab, Jenkins and most CI systems.

use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};

use crate::findings::{Check, Report, Status};

fn case_name(check: &Check) -> String {
    let target = match check.address {
        Some(address) if check.target != address.to_string() => {
            format!("{} ({address})", check.target)
        }
        _ => check.target.clone(),
    };
    match check.details.search_name() {
        Some(search) => format!("{} {target} search {search}", check.kind.as_str()),
        None => format!("{} {target}", check.kind.as_str()),
    }
}

fn explanation(check: &Check) -> String {
    let mut text = check.message.clone();
    if let Some(hint) = check.hint() {
        text.push_str("\nhint: ");
        text.push_str(hint);
    }
    if !check.details.is_empty() {
        text.push_str("\ndetails: ");
        text.push_str(&serde_json::to_string(&check.details).unwrap_or_default());
    }
    text
}

pub fn render(report: &Report) -> String {
    let mut junit = quick_junit::Report::new(format!("int-check {}", report.profile));
    junit.set_time(report.duration);
    let grouped = report.checks_by_endpoint();
    for heading in &report.endpoints {
        let mut suite = TestSuite::new(heading.name.as_str());
        suite.add_property(("url", heading.url.as_str()));
        for check in grouped.get(heading.name.as_str()).into_iter().flatten() {
            let code = check.reason.map(|r| r.code()).unwrap_or_default();
            let status = match check.status {
                Status::Warn if report.strict => {
                    // --strict: the warning fails the run, so the CI test fails too.
                    let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    status
                        .set_type(code)
                        .set_message(format!("--strict: {}", check.message))
                        .set_description(explanation(check));
                    status
                }
                Status::Pass | Status::Warn => TestCaseStatus::success(),
                Status::Fail => {
                    let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    status
                        .set_type(code)
                        .set_message(check.message.as_str())
                        .set_description(explanation(check));
                    status
                }
                Status::Skip => {
                    let mut status = TestCaseStatus::skipped();
                    status.set_type(code).set_message(check.message.as_str());
                    status
                }
            };
            let mut case = TestCase::new(case_name(check), status);
            case.set_classname(format!("int-check.{}", heading.name))
                .set_time(check.duration);
            match check.status {
                Status::Warn if !report.strict => {
                    case.set_system_out(format!("WARN [{code}] {}", explanation(check)));
                }
                Status::Pass => {
                    case.set_system_out(check.message.as_str());
                }
                _ => {}
            }
            suite.add_test_case(case);
        }
        junit.add_test_suite(suite);
    }
    junit.to_string().expect("a JUnit report serialises")
}
