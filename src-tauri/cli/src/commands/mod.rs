pub mod doctor;
pub mod profile;
