"""tap-commerce: Singer taps for five commerce REST APIs, on one shared singer-sdk base."""
