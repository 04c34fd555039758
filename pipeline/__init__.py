"""The demo pipeline: Meltano runs of the taps into PostgreSQL, and the server they load."""
