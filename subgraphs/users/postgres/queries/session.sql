-- name: InsertRefreshToken :exec
INSERT INTO refresh_tokens (token_hash, family_id, user_id, created_at, expires_at)
VALUES (@token_hash, @family_id, @user_id, @created_at, @expires_at);

-- name: GetRefreshToken :one
SELECT * FROM refresh_tokens WHERE token_hash = @token_hash;

-- name: MarkRefreshTokenUsed :one
-- Marks a current token used; no row if it is unknown, used or revoked.
UPDATE refresh_tokens
SET used_at = @used_at::timestamptz
WHERE token_hash = @token_hash AND used_at IS NULL AND revoked_at IS NULL
RETURNING family_id;

-- name: RevokeRefreshFamily :many
UPDATE refresh_tokens
SET revoked_at = @revoked_at::timestamptz
WHERE family_id = @family_id AND revoked_at IS NULL
RETURNING expires_at;

-- name: DeleteExpiredRefreshTokens :exec
DELETE FROM refresh_tokens WHERE user_id = @user_id AND expires_at < @before;
