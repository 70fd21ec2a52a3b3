//! Mail templates rendered with minijinja; services embed their sources with `include_str!`.

use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::Serialize;

use crate::MailError;

pub struct Templates {
    env: Environment<'static>,
}

impl Templates {
    /// Compiles the given `(name, source)` pairs. Names ending in `.html` are HTML-escaped.
    pub fn new(templates: &[(&'static str, &'static str)]) -> Result<Self, MailError> {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".html") {
                AutoEscape::Html
            } else {
                AutoEscape::None
            }
        });
        // A misspelt variable must fail loudly, not send a mail with a blank where the code belongs.
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        for (name, source) in templates {
            env.add_template(name, source)?;
        }
        Ok(Templates { env })
    }

    pub fn render(&self, name: &str, ctx: impl Serialize) -> Result<String, MailError> {
        Ok(self.env.get_template(name)?.render(ctx)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn templates() -> Templates {
        Templates::new(&[
            ("code.txt", "Hallo {{ name }}, Ihr Code: {{ code }}"),
            ("code.html", "<p>Hallo {{ name }}, Ihr Code: {{ code }}</p>"),
        ])
        .unwrap()
    }

    #[test]
    fn escapes_html_templates_only() {
        let t = templates();
        let ctx = minijinja::context! { name => "<Jörg & Co>", code => "123456" };
        assert_eq!(
            t.render("code.txt", &ctx).unwrap(),
            "Hallo <Jörg & Co>, Ihr Code: 123456"
        );
        assert_eq!(
            t.render("code.html", &ctx).unwrap(),
            "<p>Hallo &lt;Jörg &amp; Co&gt;, Ihr Code: 123456</p>"
        );
    }

    #[test]
    fn missing_variable_is_an_error() {
        let err = templates()
            .render("code.txt", minijinja::context! { name => "Jörg" })
            .unwrap_err();
        assert!(matches!(err, MailError::Template(_)), "{err}");
    }

    #[test]
    fn unknown_template_is_an_error() {
        assert!(templates().render("nope.txt", ()).is_err());
    }
}
