{{ staging_from_dump('app_db', 'ab_patterns') }}
