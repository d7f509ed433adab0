//! The countries a clinic can sign up in, with what each one sets: the region numbers without a
//! country code belong to, the currency, and the time zones to choose from (the first is the one
//! suggested when the browser's own zone is not among them). The sign-up page and the settings
//! offer these as choices, and the server accepts exactly these.

/// A country a clinic can be in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Country {
    /// ISO 3166 alpha-2, also the clinic's default region for numbers.
    pub code: &'static str,
    pub name: &'static str,
    /// ISO 4217.
    pub currency: &'static str,
    /// IANA time zones, the most populous first.
    pub time_zones: &'static [&'static str],
}

/// Every country offered, in the order the sign-up page lists them.
pub const COUNTRIES: &[Country] = &[
    Country {
        code: "GB",
        name: "United Kingdom",
        currency: "GBP",
        time_zones: &["Europe/London"],
    },
    Country {
        code: "IE",
        name: "Ireland",
        currency: "EUR",
        time_zones: &["Europe/Dublin"],
    },
    Country {
        code: "AU",
        name: "Australia",
        currency: "AUD",
        time_zones: &[
            "Australia/Sydney",
            "Australia/Melbourne",
            "Australia/Brisbane",
            "Australia/Perth",
            "Australia/Adelaide",
            "Australia/Hobart",
            "Australia/Darwin",
        ],
    },
    Country {
        code: "NZ",
        name: "New Zealand",
        currency: "NZD",
        time_zones: &["Pacific/Auckland"],
    },
    Country {
        code: "US",
        name: "United States",
        currency: "USD",
        time_zones: &[
            "America/New_York",
            "America/Chicago",
            "America/Denver",
            "America/Phoenix",
            "America/Los_Angeles",
            "America/Anchorage",
            "Pacific/Honolulu",
        ],
    },
    Country {
        code: "CA",
        name: "Canada",
        currency: "CAD",
        time_zones: &[
            "America/Toronto",
            "America/Vancouver",
            "America/Edmonton",
            "America/Winnipeg",
            "America/Halifax",
            "America/St_Johns",
        ],
    },
];

/// The country with ISO code `code`, if offered.
pub fn country(code: &str) -> Option<&'static Country> {
    COUNTRIES.iter().find(|country| country.code == code)
}

impl Country {
    /// The zone to suggest: the browser's own when it is one of the country's, else the first.
    pub fn suggested_time_zone(&self, browser_zone: &str) -> &'static str {
        self.time_zones
            .iter()
            .find(|zone| **zone == browser_zone)
            .unwrap_or(&self.time_zones[0])
    }

    /// The country whose zones include `zone`, to preselect from the browser's zone.
    pub fn of_time_zone(zone: &str) -> Option<&'static Country> {
        COUNTRIES
            .iter()
            .find(|country| country.time_zones.contains(&zone))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn every_country_names_known_zones_and_a_currency() {
        for country in COUNTRIES {
            assert!(!country.time_zones.is_empty(), "{}", country.code);
            for zone in country.time_zones {
                assert!(
                    crate::metrics::parse_time_zone(zone).is_ok(),
                    "{zone} is an IANA zone"
                );
            }
            assert_eq!(country.currency.len(), 3);
        }
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn the_browser_zone_is_suggested_when_it_belongs_to_the_country() {
        let australia = country("AU").expect("offered");
        assert_eq!(
            australia.suggested_time_zone("Australia/Perth"),
            "Australia/Perth"
        );
        assert_eq!(
            australia.suggested_time_zone("Europe/London"),
            "Australia/Sydney"
        );
        assert_eq!(
            Country::of_time_zone("America/Chicago").map(|c| c.code),
            Some("US")
        );
        assert_eq!(Country::of_time_zone("Asia/Tokyo"), None);
    }
}
