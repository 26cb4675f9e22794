{{ staging_from_dump('app_db', 'companies') }}
