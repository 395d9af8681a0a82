'use strict';

// SQLite in the directory the test fixture chooses (a temp dir per test session).
module.exports = ({ env }) => ({
  connection: {
    client: 'sqlite',
    connection: { filename: env('DATABASE_FILENAME') },
    useNullAsDefault: true,
  },
});
