-- name: CreateUser :exec
INSERT INTO users (id, email, name, phone, role, password_hash, created_at, updated_at)
VALUES (@id, @email, @name, @phone, @role, @password_hash, @created_at, @updated_at);

-- name: GetUser :one
SELECT * FROM users WHERE id = @id;

-- name: GetUserForUpdate :one
SELECT * FROM users WHERE id = @id FOR UPDATE;

-- name: GetUserByEmail :one
SELECT * FROM users WHERE email = @email;

-- name: ListUsersByIDs :many
SELECT * FROM users WHERE id = ANY(@ids::uuid[]);

-- name: UpdateUser :exec
UPDATE users
SET email = @email, name = @name, phone = @phone, role = @role,
    password_hash = @password_hash, updated_at = @updated_at
WHERE id = @id;
