-- name: ListAddressesByIDs :many
SELECT * FROM addresses WHERE id = ANY(@ids::uuid[]);

-- name: ListAddressesByUserIDs :many
SELECT * FROM addresses
WHERE user_id = ANY(@user_ids::uuid[])
ORDER BY user_id, is_default DESC, created_at, id;

-- name: InsertAddress :exec
INSERT INTO addresses (id, user_id, recipient, line1, line2, city, region, postal_code,
                       country, phone, is_default, created_at, updated_at)
VALUES (@id, @user_id, @recipient, @line1, @line2, @city, @region, @postal_code,
        @country, @phone, @is_default, @created_at, @updated_at);

-- name: UpdateAddress :execrows
UPDATE addresses
SET recipient = @recipient, line1 = @line1, line2 = @line2, city = @city, region = @region,
    postal_code = @postal_code, country = @country, phone = @phone,
    is_default = @is_default, updated_at = @updated_at
WHERE id = @id AND user_id = @user_id;

-- name: DeleteAddress :execrows
DELETE FROM addresses WHERE id = @id AND user_id = @user_id;
