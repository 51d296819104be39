//! Notifications through AWS: an SNS Publish with message attributes and an SES (v2)
//! SendEmail with a text and an HTML part, made with trailwarden's own credentials.

use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use aws_sdk_sns::types::MessageAttributeValue;

use crate::error::ExecError;
use crate::executor::{Executor, Outcome};

/// SNS subjects are at most 100 characters (ASCII, no line breaks).
const SNS_SUBJECT_MAX: usize = 100;

impl Executor {
    /// Publishes `message` to the SNS topic `topic_arn` (in the topic's own region), with
    /// `subject` (cut to SNS's 100 characters) and String message `attributes`.
    ///
    /// # Errors
    /// A topic that is not an SNS ARN is final; AWS errors are classified as for any action
    /// (throttling, 5xx and network trouble are retryable).
    pub async fn publish_sns(
        &self,
        topic_arn: &str,
        subject: &str,
        message: &str,
        attributes: &[(&str, &str)],
    ) -> Result<Outcome, ExecError> {
        let region = sns_region(topic_arn)?;
        let client = aws_sdk_sns::Client::new(&self.own_config(region));
        let context = format!("sns:Publish to {topic_arn}");
        let mut request = client
            .publish()
            .topic_arn(topic_arn)
            .subject(sns_subject(subject))
            .message(message);
        for (name, value) in attributes.iter().filter(|(_, v)| !v.is_empty()) {
            let value = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(*value)
                .build()
                .map_err(|e| ExecError::invalid(format!("{context}: attribute {name}: {e}")))?;
            request = request.message_attributes(*name, value);
        }
        let out = request
            .send()
            .await
            .map_err(|e| ExecError::from_sdk(&context, &e))?;
        use aws_sdk_sns::operation::RequestId;
        Ok(Outcome {
            request_id: out.request_id().map(str::to_owned),
            inverse: None,
            detail: format!(
                "message {} published to {topic_arn}",
                out.message_id().unwrap_or("(no id)")
            ),
            assumed_role: None,
        })
    }

    /// Sends one email through SES v2 from `from` to `to`, with a text and an HTML body.
    ///
    /// # Errors
    /// No recipient is final; AWS errors are classified as for any action (an unverified
    /// sender is final).
    pub async fn send_email(
        &self,
        from: &str,
        to: &[String],
        subject: &str,
        text: &str,
        html: &str,
    ) -> Result<Outcome, ExecError> {
        if to.is_empty() {
            return Err(ExecError::invalid("email: no recipient"));
        }
        let client = aws_sdk_sesv2::Client::new(&self.own_config(""));
        let context = format!("ses:SendEmail from {from}");
        let content = |data: &str| {
            Content::builder()
                .data(data)
                .charset("UTF-8")
                .build()
                .map_err(|e| ExecError::invalid(format!("{context}: {e}")))
        };
        let message = Message::builder()
            .subject(content(subject)?)
            .body(
                Body::builder()
                    .text(content(text)?)
                    .html(content(html)?)
                    .build(),
            )
            .build();
        let out = client
            .send_email()
            .from_email_address(from)
            .destination(
                Destination::builder()
                    .set_to_addresses(Some(to.to_vec()))
                    .build(),
            )
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await
            .map_err(|e| ExecError::from_sdk(&context, &e))?;
        use aws_sdk_sesv2::operation::RequestId;
        Ok(Outcome {
            request_id: out.request_id().map(str::to_owned),
            inverse: None,
            detail: format!(
                "email {} sent to {} recipient(s)",
                out.message_id().unwrap_or("(no id)"),
                to.len()
            ),
            assumed_role: None,
        })
    }
}

/// The region of an SNS topic ARN (`arn:PARTITION:sns:REGION:ACCOUNT:NAME`).
fn sns_region(topic_arn: &str) -> Result<&str, ExecError> {
    let parts: Vec<&str> = topic_arn.split(':').collect();
    match parts.as_slice() {
        ["arn", _, "sns", region, _, name] if !region.is_empty() && !name.is_empty() => Ok(region),
        _ => Err(ExecError::invalid(format!(
            "{topic_arn:?} is not an SNS topic ARN"
        ))),
    }
}

/// SNS subjects: printable ASCII without line breaks, at most 100 characters.
fn sns_subject(subject: &str) -> String {
    let clean: String = subject
        .chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c
            } else {
                ' '
            }
        })
        .take(SNS_SUBJECT_MAX)
        .collect();
    let clean = clean.trim().to_owned();
    if clean.is_empty() {
        "trailwarden".to_owned()
    } else {
        clean
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_regions_and_subjects() {
        assert_eq!(
            sns_region("arn:aws:sns:eu-west-1:111122223333:alerts").unwrap(),
            "eu-west-1"
        );
        assert!(sns_region("arn:aws:sqs:eu-west-1:111122223333:q").is_err());
        assert!(sns_region("alerts").is_err());
        let long = format!("Root user signed in é\n{}", "x".repeat(200));
        let subject = sns_subject(&long);
        assert_eq!(subject.len(), SNS_SUBJECT_MAX);
        assert!(subject.is_ascii() && !subject.contains('\n'));
    }
}
